/**
 * The audit console's page. Every view is a URL (`/?table=…&item=…&view=…`), so a link
 * can be shared. Item content is untrusted: the DOM is built from text nodes and attribute
 * values only (never HTML from data), and links are always relative query strings, so a
 * value holding `<script>` or `javascript:` shows as the text it is.
 */

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type Wire = { [tag: string]: unknown };

interface TableInfo {
  name: string;
  key: { name: string; type: string }[];
  retention: { days?: number; versions?: number } | null;
}

interface RecordView {
  itemKey: string;
  version: number;
  op: string;
  source: string;
  recordedAt: string;
  deleted: boolean;
  changed: string[];
  actor?: string;
  actorSource?: string;
  reason?: string;
  restoredFrom?: number;
  declaredVersion?: string;
  labelRejected?: boolean;
  eventId?: string;
  sequenceNumber?: string;
  expiresAt?: string;
  retention?: { days?: number; versions?: number };
  prevHash: string;
  hash: string;
  typedImage: Record<string, Wire> | null;
  uncertain?: string;
}

const GENESIS = '0'.repeat(64);
const token = document.querySelector('meta[name="console-token"]')?.getAttribute('content') ?? '';
const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function call(
  name: string,
  params: Record<string, string | undefined> = {},
  body?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: the server's JSON, shaped by shared/; each view reads the fields it shows.
): Promise<any> {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') query.set(k, v);
  const response = await fetch(`/api/${name}${body === undefined ? `?${query}` : ''}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      'x-console-token': token,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const data = await response
    .json()
    .catch(() => ({ code: 'console.response', message: response.statusText }));
  if (!response.ok) throw new ApiError(response.status, String(data.code), String(data.message));
  return data;
}

// ---- DOM from text only -------------------------------------------------------------

type Child = Node | string | number | null | undefined | false;

function h(
  tag: string,
  attrs: Record<string, string | boolean | undefined> = {},
  ...children: Child[]
): HTMLElement {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A link to another view of the console: always a relative query string, never a scheme. */
function link(params: Record<string, string | number | undefined>, ...children: Child[]): HTMLElement {
  const a = h('a', { href: `?${query(params)}` }, ...children);
  a.addEventListener('click', (event) => {
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    go(params);
  });
  return a;
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  return q.toString();
}

function go(params: Record<string, string | number | undefined>): void {
  history.pushState(null, '', `?${query(params)}`);
  void render();
}

function errorBox(error: unknown): HTMLElement {
  if (error instanceof ApiError)
    return h(
      'div',
      { role: 'alert', class: 'error' },
      h('strong', {}, `${error.status} ${error.code}: `),
      error.message,
    );
  return h(
    'div',
    { role: 'alert', class: 'error' },
    `Error: ${error instanceof Error ? error.message : String(error)}`,
  );
}

/** Appends the children that are there (conditional parts are null or false). */
function put(parent: HTMLElement, ...children: Child[]): void {
  parent.append(fragment(children));
}

function fragment(children: Child[]): DocumentFragment {
  const f = document.createDocumentFragment();
  for (const c of children)
    if (c !== null && c !== undefined && c !== false) f.append(typeof c === 'object' ? c : String(c));
  return f;
}

/** Replaces the children. */
function swap(parent: HTMLElement, ...children: Child[]): void {
  parent.replaceChildren(fragment(children));
}

const badge = (text: string, kind = text) =>
  h('span', { class: `badge badge-${kind.replace(/[^a-z]/gi, '')}` }, text);

// ---- values, faithfully typed -----------------------------------------------------------

function scalar(type: string, text: string, note?: string): HTMLElement {
  return h(
    'span',
    { class: `value value-${type}` },
    h('span', { class: 'type' }, type),
    ' ',
    text,
    note ? h('span', { class: 'note' }, ` ${note}`) : null,
  );
}

const bytesOf = (b64: string): number => Math.floor((b64.replace(/=+$/, '').length * 3) / 4);

/** One DynamoDB value as a tree: maps and lists collapse, sets say they are sets, numbers keep every digit. */
function valueTree(value: Wire, open: boolean): HTMLElement {
  const [type] = Object.keys(value);
  const v = type === undefined ? undefined : value[type];
  switch (type) {
    case 'S':
      return scalar('S', JSON.stringify(v));
    case 'N':
      return scalar('N', String(v));
    case 'BOOL':
      return scalar('BOOL', String(v));
    case 'NULL':
      return scalar('NULL', 'null');
    case 'B':
      return scalar('B', String(v), `(${bytesOf(String(v))} bytes, base64)`);
    case 'SS':
    case 'NS':
    case 'BS': {
      const members = [...(v as string[])].sort();
      return h(
        'details',
        { class: 'set', open },
        h('summary', {}, h('span', { class: 'type' }, type), ` set of ${members.length}`),
        h('ul', {}, ...members.map((m) => h('li', {}, type === 'SS' ? JSON.stringify(m) : m))),
      );
    }
    case 'L': {
      const list = v as Wire[];
      return h(
        'details',
        { class: 'list', open },
        h('summary', {}, h('span', { class: 'type' }, 'L'), ` list of ${list.length}`),
        h('ol', { start: '0' }, ...list.map((item) => h('li', {}, valueTree(item, false)))),
      );
    }
    case 'M':
      return mapTree(v as Record<string, Wire>, open, 'M');
    default:
      return scalar('?', JSON.stringify(value));
  }
}

function mapTree(map: Record<string, Wire>, open: boolean, label: string): HTMLElement {
  const names = Object.keys(map).sort();
  return h(
    'details',
    { class: 'map', open },
    h(
      'summary',
      {},
      h('span', { class: 'type' }, label),
      ` ${names.length} attribute${names.length === 1 ? '' : 's'}`,
    ),
    h('dl', {}, ...names.flatMap((n) => [h('dt', {}, n), h('dd', {}, valueTree(map[n] as Wire, false))])),
  );
}

// ---- state ------------------------------------------------------------------------------

let tables: TableInfo[] = [];
const params = () =>
  Object.fromEntries(new URLSearchParams(location.search)) as Record<string, string | undefined>;

const VIEWS = [
  ['timeline', 'Timeline'],
  ['version', 'Version'],
  ['diff', 'Diff'],
  ['asof', 'As of'],
  ['blame', 'Blame'],
  ['integrity', 'Integrity'],
  ['rollback', 'Rollback'],
] as const;

function tableOf(p: Record<string, string | undefined>): TableInfo | undefined {
  return tables.find((t) => t.name === p.table) ?? (tables.length === 1 ? tables[0] : undefined);
}

async function render(): Promise<void> {
  const p = params();
  nav.replaceChildren(
    link({ table: p.table }, 'Find an item'),
    ' ',
    link({ table: p.table, view: 'activity' }, 'Activity'),
  );
  const content = h('div', { class: 'view' });
  main.replaceChildren(content);
  try {
    if (tables.length === 0) tables = (await call('tables')).tables;
    if (p.view === 'activity') await activityView(content, p);
    else if (!p.item) findView(content, p);
    else await itemView(content, p);
  } catch (error) {
    put(content, errorBox(error));
  }
  document.title = `${p.item ? `${p.item} · ` : ''}dynamo-history console`;
  main.focus({ preventScroll: true });
}

window.addEventListener('popstate', () => void render());

// ---- find -------------------------------------------------------------------------------

function tablePicker(p: Record<string, string | undefined>, view?: string): HTMLElement | null {
  if (tables.length < 2) return null;
  const select = h(
    'select',
    { id: 'table', name: 'table' },
    ...tables.map((t) => h('option', { value: t.name, selected: t.name === p.table }, t.name)),
  ) as HTMLSelectElement;
  select.addEventListener('change', () => go({ table: select.value, view }));
  return h('p', {}, h('label', { for: 'table' }, 'Table '), select);
}

function findView(content: HTMLElement, p: Record<string, string | undefined>): void {
  const table = tableOf(p) ?? tables[0];
  if (!table) return;
  const fields = table.key.map((k) =>
    h(
      'p',
      {},
      h(
        'label',
        { for: `k-${k.name}` },
        `${k.name} `,
        h(
          'span',
          { class: 'type' },
          k.type === 'N' ? 'number' : k.type === 'B' ? 'binary (base64)' : 'string',
        ),
      ),
      h('input', {
        id: `k-${k.name}`,
        name: k.name,
        required: true,
        autocomplete: 'off',
        inputmode: k.type === 'N' ? 'decimal' : undefined,
      }),
    ),
  );
  const status = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'find' },
    h('h1', {}, 'Find an item'),
    tablePicker(p),
    h(
      'p',
      { class: 'hint' },
      `Table ${table.name}, keyed by ${table.key.map((k) => `${k.name} (${k.type})`).join(' + ')}.`,
    ),
    ...fields,
    h('button', { type: 'submit' }, 'Open history'),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const values: Record<string, string> = { table: table.name };
    for (const k of table.key)
      values[`k.${k.name}`] = (form.querySelector(`#k-${CSS.escape(k.name)}`) as HTMLInputElement).value;
    try {
      const { itemKey } = await call('key', values);
      go({ table: p.table, item: itemKey, view: 'timeline' });
    } catch (error) {
      swap(status, errorBox(error));
    }
  });
  put(content, form);
  const raw = h('input', {
    id: 'raw-key',
    name: 'item',
    autocomplete: 'off',
    placeholder: 'USER%231|ORDER%232',
  }) as HTMLInputElement;
  const rawForm = h(
    'form',
    { class: 'find' },
    h('h2', {}, 'Or open an item key'),
    h('p', {}, h('label', { for: 'raw-key' }, 'History item key '), raw),
    h('button', { type: 'submit' }, 'Open'),
  );
  rawForm.addEventListener('submit', (event) => {
    event.preventDefault();
    go({ table: p.table, item: raw.value, view: 'timeline' });
  });
  put(content, rawForm);
}

// ---- item views -------------------------------------------------------------------------

async function itemView(content: HTMLElement, p: Record<string, string | undefined>): Promise<void> {
  const view = p.view ?? 'timeline';
  const base = { table: p.table, item: p.item };
  put(
    content,
    h('h1', { class: 'item' }, h('span', { class: 'label' }, 'Item '), h('code', {}, p.item ?? '')),
    h(
      'nav',
      { class: 'tabs', 'aria-label': 'Item views' },
      ...VIEWS.map(([id, label]) => {
        const a = link(
          { ...base, view: id, ...(id === 'version' || id === 'rollback' ? { v: p.v } : {}) },
          label,
        );
        if (id === view) a.setAttribute('aria-current', 'page');
        return a;
      }),
    ),
  );
  const body = h('section', { class: `panel panel-${view}` });
  put(content, body);
  switch (view) {
    case 'timeline':
      return timeline(body, p);
    case 'version':
      return versionView(body, p);
    case 'diff':
      return diffView(body, p);
    case 'asof':
      return asOfView(body, p);
    case 'blame':
      return blameView(body, p);
    case 'integrity':
      return integrityView(body, p);
    case 'rollback':
      return rollbackView(body, p);
    default:
      put(body, errorBox(new Error(`there is no view "${view}"`)));
  }
}

function sourceCell(r: RecordView, p: Record<string, string | undefined>): HTMLElement {
  const cell = h('td', {}, badge(r.source));
  if (r.restoredFrom !== undefined)
    cell.append(
      ' ',
      h(
        'span',
        { class: 'restored' },
        'restored ',
        link({ table: p.table, item: p.item, view: 'version', v: r.restoredFrom }, `v${r.restoredFrom}`),
      ),
    );
  if (r.labelRejected) cell.append(' ', badge('label rejected', 'rejected'));
  return cell;
}

async function timeline(body: HTMLElement, p: Record<string, string | undefined>): Promise<void> {
  const page = await call('versions', { table: p.table, item: p.item, cursor: p.c, limit: '50' });
  const items = page.items as RecordView[];
  const selected: number[] = [];
  const compare = h(
    'button',
    { type: 'button', disabled: true },
    'Diff the two selected',
  ) as HTMLButtonElement;
  compare.addEventListener('click', () => {
    const [a, b] = [...selected].sort((x, y) => x - y);
    go({ table: p.table, item: p.item, view: 'diff', from: a, to: b });
  });
  const rows = items.map((r) => {
    const box = h('input', {
      type: 'checkbox',
      'aria-label': `select v${r.version} to diff`,
    }) as HTMLInputElement;
    box.addEventListener('change', () => {
      if (box.checked) selected.push(r.version);
      else selected.splice(selected.indexOf(r.version), 1);
      compare.disabled = selected.length !== 2;
    });
    return h(
      'tr',
      {
        class: r.deleted ? 'tombstone' : r.source === 'rollback' ? 'rollback' : undefined,
        'data-version': String(r.version),
      },
      h('td', {}, box),
      h('td', {}, link({ table: p.table, item: p.item, view: 'version', v: r.version }, `v${r.version}`)),
      h('td', {}, h('time', { datetime: r.recordedAt }, r.recordedAt)),
      h('td', {}, r.deleted ? badge('deleted', 'tombstone') : r.op),
      sourceCell(r, p),
      h('td', {}, r.actor ?? ''),
      h('td', {}, r.reason ?? ''),
      h('td', { class: 'changed' }, r.changed.join(', ')),
    );
  });
  const oldest = items.at(-1);
  if (!page.cursor && oldest && oldest.version > 1) {
    const expired = oldest.prevHash !== GENESIS;
    rows.push(
      h(
        'tr',
        { class: 'expired' },
        h(
          'td',
          { colspan: '8' },
          expired
            ? `v1–v${oldest.version - 1}: expired under the retention policy (the chain starts at a retained anchor)`
            : `history starts at v${oldest.version}: earlier versions were never recorded`,
        ),
      ),
    );
  }
  put(
    body,
    h('h2', {}, 'Timeline ', h('span', { class: 'hint' }, 'newest first')),
    h(
      'table',
      { class: 'timeline' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['', 'Version', 'Recorded at', 'Op', 'Source', 'Actor', 'Reason', 'Changed'].map((c) =>
            h('th', { scope: 'col' }, c),
          ),
        ),
      ),
      h('tbody', {}, ...rows),
    ),
    h(
      'p',
      { class: 'pager' },
      compare,
      ' ',
      p.c ? link({ table: p.table, item: p.item, view: 'timeline' }, '⇤ Newest') : null,
      ' ',
      page.cursor
        ? link({ table: p.table, item: p.item, view: 'timeline', c: page.cursor }, 'Older →')
        : h('span', { class: 'hint' }, 'oldest version reached'),
    ),
  );
}

function metadata(r: RecordView): HTMLElement {
  const rows: [string, Child][] = [
    ['version', `v${r.version}`],
    ['op', r.deleted ? 'REMOVE (tombstone: the item did not exist)' : r.op],
    ['source', r.source],
    ['recorded at', r.recordedAt],
  ];
  if (r.actor) rows.push(['actor', `${r.actor}${r.actorSource ? ` (${r.actorSource})` : ''}`]);
  if (r.reason) rows.push(['reason', r.reason]);
  if (r.restoredFrom !== undefined) rows.push(['restored from', `v${r.restoredFrom}`]);
  if (r.declaredVersion) rows.push(['declared version', r.declaredVersion]);
  if (r.changed.length) rows.push(['changed', r.changed.join(', ')]);
  if (r.eventId) rows.push(['event id', r.eventId]);
  if (r.sequenceNumber) rows.push(['sequence number', r.sequenceNumber]);
  if (r.expiresAt) rows.push(['expires at', r.expiresAt]);
  rows.push(
    ['hash', h('code', { class: 'hash' }, r.hash)],
    ['previous hash', h('code', { class: 'hash' }, r.prevHash)],
  );
  return h('dl', { class: 'meta' }, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function numberForm(
  label: string,
  name: string,
  value: string | undefined,
  onGo: (v: string) => void,
  extra?: HTMLElement,
): HTMLElement {
  const input = h('input', {
    id: `f-${name}`,
    name,
    value: value ?? '',
    inputmode: 'numeric',
    size: '8',
    required: true,
  }) as HTMLInputElement;
  const form = h(
    'form',
    { class: 'inline' },
    h('label', { for: `f-${name}` }, `${label} `),
    input,
    extra ?? null,
    ' ',
    h('button', { type: 'submit' }, 'Show'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    onGo(input.value.replace(/^v/i, ''));
  });
  return form;
}

async function versionView(body: HTMLElement, p: Record<string, string | undefined>): Promise<void> {
  put(
    body,
    numberForm('Version', 'v', p.v, (v) => go({ table: p.table, item: p.item, view: 'version', v })),
  );
  if (!p.v) return;
  const r = (await call('version', { table: p.table, item: p.item, v: p.v })) as RecordView;
  put(
    body,
    h('h2', {}, `v${r.version}`, ' ', r.deleted ? badge('deleted', 'tombstone') : badge(r.source)),
    metadata(r),
    h('h3', {}, 'Image'),
    r.typedImage
      ? mapTree(r.typedImage, true, 'item')
      : h('p', { class: 'hint' }, 'No image: the item did not exist at this version.'),
    h(
      'p',
      {},
      link({ table: p.table, item: p.item, view: 'rollback', v: r.version }, `Roll back to v${r.version}…`),
    ),
  );
}

const show = (v: Json | undefined) => (v === undefined ? '' : JSON.stringify(v));

async function diffView(body: HTMLElement, p: Record<string, string | undefined>): Promise<void> {
  const to = h('input', {
    id: 'f-to',
    name: 'to',
    value: p.to ?? '',
    inputmode: 'numeric',
    size: '8',
    required: true,
  }) as HTMLInputElement;
  const form = numberForm(
    'From version',
    'from',
    p.from,
    (from) => go({ table: p.table, item: p.item, view: 'diff', from, to: to.value.replace(/^v/i, '') }),
    h('span', {}, ' ', h('label', { for: 'f-to' }, 'to version '), to),
  );
  put(body, form);
  if (!p.from || !p.to) return;
  const d = await call('diff', { table: p.table, item: p.item, from: p.from, to: p.to });
  const entries = [
    ...d.added.map((e: { path: string; after: Json }) => ['added', e.path, undefined, e.after] as const),
    ...d.removed.map(
      (e: { path: string; before: Json }) => ['removed', e.path, e.before, undefined] as const,
    ),
    ...d.changed.map(
      (e: { path: string; before: Json; after: Json }) => ['changed', e.path, e.before, e.after] as const,
    ),
  ].sort((a, b) => (a[1] < b[1] ? -1 : 1));
  put(
    body,
    h('h2', {}, `v${d.from} → v${d.to}`),
    d.fromDeleted ? h('p', { class: 'hint' }, `v${d.from} is a tombstone: the item did not exist.`) : null,
    d.toDeleted ? h('p', { class: 'hint' }, `v${d.to} is a tombstone: the item was deleted.`) : null,
    entries.length === 0
      ? h('p', {}, 'No differences.')
      : h(
          'table',
          { class: 'diff' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', { scope: 'col' }, 'Path'),
              h('th', { scope: 'col' }, `v${d.from}`),
              h('th', { scope: 'col' }, `v${d.to}`),
            ),
          ),
          h(
            'tbody',
            {},
            ...entries.map(([kind, path, before, after]) =>
              h(
                'tr',
                { class: `diff-${kind}` },
                h('td', {}, h('code', {}, path), ' ', h('span', { class: 'kind' }, kind)),
                h('td', { class: 'before' }, show(before)),
                h('td', { class: 'after' }, show(after)),
              ),
            ),
          ),
        ),
  );
}

async function asOfView(body: HTMLElement, p: Record<string, string | undefined>): Promise<void> {
  const input = h('input', {
    id: 'f-at',
    name: 'at',
    value: p.at ?? new Date().toISOString(),
    size: '28',
    required: true,
    placeholder: '2026-01-31T12:00:00Z',
  }) as HTMLInputElement;
  const form = h(
    'form',
    { class: 'inline' },
    h('label', { for: 'f-at' }, 'Instant (ISO-8601 with a zone) '),
    input,
    ' ',
    h('button', { type: 'submit' }, 'Show'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    go({ table: p.table, item: p.item, view: 'asof', at: input.value.trim() });
  });
  put(body, form);
  if (!p.at) return;
  let r: RecordView;
  try {
    r = await call('asOf', { table: p.table, item: p.item, at: p.at });
  } catch (error) {
    if (error instanceof ApiError && error.code === 'version.notFound') {
      put(
        body,
        h(
          'p',
          { class: 'answer', role: 'status' },
          `At ${p.at} the item did not exist: its first version came later.`,
        ),
      );
      return;
    }
    throw error;
  }
  put(
    body,
    r.deleted
      ? h(
          'p',
          { class: 'answer', role: 'status' },
          `At ${p.at} the item did not exist: it was deleted at `,
          link({ table: p.table, item: p.item, view: 'version', v: r.version }, `v${r.version}`),
          '.',
        )
      : h(
          'p',
          { class: 'answer', role: 'status' },
          `At ${p.at} the version in force was `,
          link({ table: p.table, item: p.item, view: 'version', v: r.version }, `v${r.version}`),
          ` (recorded ${r.recordedAt}).`,
        ),
    r.uncertain ? h('p', { class: 'hint' }, r.uncertain) : null,
    r.typedImage ? mapTree(r.typedImage, true, 'item') : null,
  );
}

async function blameView(body: HTMLElement, p: Record<string, string | undefined>): Promise<void> {
  const b = await call('blame', { table: p.table, item: p.item });
  if (b.deleted) {
    put(
      body,
      h('p', {}, `The item is deleted (v${b.version} is a tombstone): there is no current image to blame.`),
    );
    return;
  }
  put(
    body,
    h('h2', {}, `Who set each attribute of v${b.version}`),
    h(
      'table',
      { class: 'blame' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Attribute', 'Version', 'Recorded at', 'Source', 'Actor'].map((c) =>
            h('th', { scope: 'col' }, c),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        ...b.attributes.map(
          (e: {
            attribute: string;
            version: number;
            recordedAt: string;
            source: string;
            actor?: string;
            how: string;
          }) =>
            h(
              'tr',
              {},
              h('td', {}, h('code', {}, e.attribute)),
              h(
                'td',
                {},
                link({ table: p.table, item: p.item, view: 'version', v: e.version }, `v${e.version}`),
                e.how === 'retained' ? ' or earlier' : e.how === 'created' ? ' (created)' : '',
              ),
              h('td', {}, e.recordedAt),
              h('td', {}, badge(e.source)),
              h('td', {}, e.actor ?? ''),
            ),
        ),
      ),
    ),
    b.managed.length
      ? h('p', { class: 'hint' }, `Set by every write or at creation, not blamed: ${b.managed.join(', ')}.`)
      : null,
  );
}

async function integrityView(body: HTMLElement, p: Record<string, string | undefined>): Promise<void> {
  const report = await call('verify', { table: p.table, item: p.item });
  const ok = report.findings.length === 0;
  put(
    body,
    h('h2', {}, 'This item’s chain'),
    h(
      'p',
      { class: ok ? 'ok' : 'bad', role: 'status' },
      ok
        ? `OK: ${report.records} record(s) verified, no findings.`
        : `${report.findings.length} finding(s) in ${report.records} record(s):`,
    ),
    ok
      ? null
      : h(
          'table',
          { class: 'findings' },
          h(
            'thead',
            {},
            h('tr', {}, ...['Version', 'Finding', 'Detail'].map((c) => h('th', { scope: 'col' }, c))),
          ),
          h(
            'tbody',
            {},
            ...report.findings.map((f: { version?: number; kind: string; message: string }) =>
              h(
                'tr',
                {},
                h('td', {}, f.version === undefined ? '' : `v${f.version}`),
                h('td', {}, h('code', {}, f.kind)),
                h('td', {}, f.message),
              ),
            ),
          ),
        ),
    report.truncated
      ? h(
          'p',
          { class: 'hint' },
          'The chain starts at a retained anchor: older versions expired under the retention policy.',
        )
      : null,
  );
  const out = h('div', { 'aria-live': 'polite' });
  const button = h('button', { type: 'button' }, 'Compute the table digest') as HTMLButtonElement;
  button.addEventListener('click', async () => {
    button.disabled = true;
    swap(out, h('p', { class: 'hint' }, 'Verifying every chain of the table…'));
    try {
      const d = await call('digest', { table: p.table });
      swap(
        out,
        h('p', {}, `${d.items} item(s), ${d.records} record(s), ${d.findings.length} finding(s).`),
        h('p', {}, 'Digest ', h('code', { class: 'hash', id: 'digest' }, d.digest)),
      );
    } catch (error) {
      swap(out, errorBox(error));
    } finally {
      button.disabled = false;
    }
  });
  put(body, h('h2', {}, 'The whole table'), button, out);
}

async function rollbackView(body: HTMLElement, p: Record<string, string | undefined>): Promise<void> {
  const version = h('input', {
    id: 'f-rv',
    name: 'toVersion',
    value: p.v ?? '',
    inputmode: 'numeric',
    size: '8',
    required: true,
  }) as HTMLInputElement;
  const reason = h('input', {
    id: 'f-reason',
    name: 'reason',
    size: '40',
    maxlength: '1024',
  }) as HTMLInputElement;
  const out = h('div', { 'aria-live': 'polite', class: 'rollback-result' });
  const form = h(
    'form',
    { class: 'rollback' },
    h('h2', {}, 'Roll back'),
    h(
      'p',
      { class: 'hint' },
      'Writes the chosen version back as a new version, through the version check. History is never edited.',
    ),
    h('p', {}, h('label', { for: 'f-rv' }, 'Version to restore '), version),
    h('p', {}, h('label', { for: 'f-reason' }, 'Reason '), reason),
    h('button', { type: 'submit' }, 'Preview (dry run)'),
    out,
  );
  const request = (dryRun: boolean, expectedVersion?: number) => ({
    table: p.table,
    item: p.item,
    toVersion: Number(version.value.replace(/^v/i, '')),
    ...(reason.value ? { reason: reason.value } : {}),
    ...(expectedVersion !== undefined ? { expectedVersion } : {}),
    dryRun,
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    swap(out);
    let preview: {
      previousVersion: number;
      newVersion: number;
      restoredVersion: number;
      image: Record<string, Json> | null;
    };
    try {
      preview = await call('rollback', {}, request(true));
    } catch (error) {
      swap(out, errorBox(error));
      return;
    }
    const confirm = h(
      'button',
      { type: 'button', class: 'danger' },
      `Confirm: write v${preview.newVersion}`,
    ) as HTMLButtonElement;
    const cancel = h('button', { type: 'button' }, 'Cancel') as HTMLButtonElement;
    cancel.addEventListener('click', () => swap(out));
    confirm.addEventListener('click', async () => {
      confirm.disabled = true;
      try {
        const done = await call('rollback', {}, request(false, preview.previousVersion));
        swap(
          out,
          h(
            'p',
            { class: 'ok', role: 'status' },
            `Restored v${done.restoredVersion} as v${done.newVersion}. The stream records it shortly: `,
            link({ table: p.table, item: p.item, view: 'timeline' }, 'see the timeline'),
            '.',
          ),
        );
      } catch (error) {
        swap(
          out,
          errorBox(error),
          h('p', { class: 'hint' }, 'Nothing was written. Preview again to see the item as it is now.'),
        );
      }
    });
    swap(
      out,
      h('h3', {}, 'Dry run'),
      h(
        'p',
        { role: 'status', class: 'preview' },
        `Would restore v${preview.restoredVersion} as v${preview.newVersion}; the item is at version ${preview.previousVersion} now. ${preview.image ? 'The image written would be:' : 'The item would be deleted.'}`,
      ),
      preview.image ? h('pre', { class: 'image' }, JSON.stringify(preview.image, null, 2)) : null,
      h('p', {}, confirm, ' ', cancel),
    );
    confirm.focus();
  });
  put(body, form);
}

// ---- activity ---------------------------------------------------------------------------

async function activityView(content: HTMLElement, p: Record<string, string | undefined>): Promise<void> {
  const now = Date.now();
  const from = h('input', {
    id: 'f-from',
    value: p.from ?? new Date(now - 86_400_000).toISOString(),
    size: '28',
    required: true,
  }) as HTMLInputElement;
  const to = h('input', {
    id: 'f-to',
    value: p.to ?? new Date(now + 60_000).toISOString(),
    size: '28',
    required: true,
  }) as HTMLInputElement;
  const form = h(
    'form',
    { class: 'inline' },
    h('label', { for: 'f-from' }, 'From '),
    from,
    ' ',
    h('label', { for: 'f-to' }, 'to '),
    to,
    ' ',
    h('button', { type: 'submit' }, 'Show'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    go({ table: p.table, view: 'activity', from: from.value.trim(), to: to.value.trim() });
  });
  put(content, h('h1', {}, 'Table-wide activity'), tablePicker(p, 'activity'), form);
  if (!p.from || !p.to) return;
  const page = await call('activity', { table: p.table, from: p.from, to: p.to, cursor: p.c });
  put(
    content,
    page.items.length === 0
      ? h('p', { role: 'status' }, 'No changes recorded in this window.')
      : h(
          'table',
          { class: 'activity' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['Recorded at', 'Item', 'Version', 'Op', 'Source', 'Actor'].map((c) =>
                h('th', { scope: 'col' }, c),
              ),
            ),
          ),
          h(
            'tbody',
            {},
            ...page.items.map(
              (e: {
                recordedAt: string;
                itemKey: string;
                version: number;
                op: string;
                source: string;
                actor?: string;
              }) =>
                h(
                  'tr',
                  { class: e.op === 'REMOVE' ? 'tombstone' : undefined },
                  h('td', {}, e.recordedAt),
                  h('td', {}, link({ table: p.table, item: e.itemKey, view: 'timeline' }, e.itemKey)),
                  h(
                    'td',
                    {},
                    link({ table: p.table, item: e.itemKey, view: 'version', v: e.version }, `v${e.version}`),
                  ),
                  h('td', {}, e.op === 'REMOVE' ? badge('deleted', 'tombstone') : e.op),
                  h('td', {}, badge(e.source)),
                  h('td', {}, e.actor ?? ''),
                ),
            ),
          ),
        ),
    page.cursor
      ? h(
          'p',
          { class: 'pager' },
          link({ table: p.table, view: 'activity', from: p.from, to: p.to, c: page.cursor }, 'More →'),
        )
      : null,
  );
}

void render();
