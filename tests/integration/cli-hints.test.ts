import { freePort } from '../../local/dynamodb-local';
import { cliEnv, runCli } from '../helpers/cli';
import { createTestTables, testClient, testEndpoint } from '../helpers/dynamo';

// What a first-time user gets wrong (issue 11), answered with the table, variable or port to fix.
const client = testClient();
let env: Record<string, string>;
let composite: Record<string, string>;

beforeAll(async () => {
  env = cliEnv((await createTestTables(client)).tables, testEndpoint());
  composite = cliEnv((await createTestTables(client, 'pk,sk')).tables, testEndpoint());
});
afterAll(() => client.destroy());

describe('CLI hints', () => {
  it('names the tables and their variables when a table does not exist', async () => {
    const cli = await runCli(['versions', 'order-1'], { ...env, HISTORY_TABLE_NAME: 'no-such-history' });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/a table does not exist at http:\/\/127\.0\.0\.1:\d+/);
    expect(cli.stderr).toContain('no-such-history (HISTORY_TABLE_NAME)');
  });

  it('names the endpoint and npm start when nothing listens there', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const cli = await runCli(['versions', 'order-1'], { ...env, AWS_ENDPOINT_URL_DYNAMODB: endpoint });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain(
      `cannot reach ${endpoint}: nothing is listening there. Is the stack running (npm start)?`,
    );
  }, 60_000);

  it('refuses an endpoint without its scheme before sending anything', async () => {
    const cli = await runCli(['versions', 'order-1'], {
      ...env,
      AWS_ENDPOINT_URL_DYNAMODB: 'localhost:8000',
    });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain(
      'AWS_ENDPOINT_URL_DYNAMODB must be a URL with its scheme, such as http://localhost:8000',
    );
  });

  it('takes the region from AWS_DEFAULT_REGION, as the AWS CLI does', async () => {
    const { AWS_REGION: _unset, ...rest } = env;
    const cli = await runCli(['versions', 'order-1'], {
      ...rest,
      AWS_REGION: '',
      AWS_DEFAULT_REGION: 'us-east-1',
    });
    expect(cli.stderr).toBe('dynamo-history: Item order-1 not found\n');
    expect(cli.code).toBe(1);
  });

  it('says KEY_ATTRIBUTES is wrong when the latest table has another key', async () => {
    const { KEY_ATTRIBUTES: _none, ...unset } = composite;
    const cli = await runCli(['verify', '--key', 'a'], unset);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(
      /the table's key is not KEY_ATTRIBUTES=id:S: set KEY_ATTRIBUTES to the latest table's key/,
    );
  });
});
