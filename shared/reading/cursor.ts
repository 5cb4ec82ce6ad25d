import { createHmac, timingSafeEqual } from 'node:crypto';
import { ValidationError } from '../core/errors';

/**
 * Opaque, signed page cursors: `base64url(JSON body).mac`, where mac is the first 22
 * characters of HMAC-SHA-256(secret, scope + "\n" + base64url body). The scope (a history
 * table's name, and the query kind) is signed with the body, so a cursor of one table or
 * query means nothing for another. Reading checks the MAC before anything else and
 * returns the body as an untrusted object: its fields are still the caller's to check.
 */
export class CursorCodec {
  constructor(
    private readonly secret: string,
    private readonly scope: string,
  ) {}

  private sign(body: string): string {
    return createHmac('sha256', this.secret)
      .update(`${this.scope}\n${body}`)
      .digest('base64url')
      .slice(0, 22);
  }

  write(body: object): string {
    const json = Buffer.from(JSON.stringify(body)).toString('base64url');
    return `${json}.${this.sign(json)}`;
  }

  /** The signed body of a cursor this codec issued. @throws ValidationError for anything else */
  read(cursor: unknown): Record<string, unknown> {
    const invalid = () => new ValidationError('cursor is not valid for this query; start again without one');
    if (typeof cursor !== 'string' || cursor.length > 2048) throw invalid();
    const [json, mac, ...rest] = cursor.split('.');
    if (!json || !mac || rest.length > 0) throw invalid();
    const good = Buffer.from(this.sign(json));
    const given = Buffer.from(mac);
    if (good.length !== given.length || !timingSafeEqual(good, given)) throw invalid();
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(json, 'base64url').toString('utf8'));
    } catch {
      throw invalid();
    }
    // Signed, but by whoever holds the key: the body is still checked, never trusted for its shape.
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid();
    return parsed as Record<string, unknown>;
  }
}
