import { Authenticator, ROLES, type Role } from '../src/transport/auth.ts';
import { loadConfig } from '../src/config.ts';
import { parseCommandLine, usageError } from './lib/cli.ts';

/*
 * Mints a development token signed with JWT_SECRET (the same default as the server's).
 * Prints the token alone on stdout, so `TOKEN=$(npm run -s token -- --user alice --roles trader)`.
 */
const NAME = 'npm run token --';
const { values } = parseCommandLine({
  name: NAME,
  usage: `usage: npm run token -- --user <id> [--roles trader,issuer,admin] [--expires 12h]

Mints a development JWT signed with JWT_SECRET (the server's default when unset) and prints it
alone on stdout: TOKEN=$(npm run -s token -- --user alice --roles trader)

  --user <id>        the token's subject (required)
  --roles <list>     comma-separated, of ${ROLES.join(', ')} (default trader)
  --expires <span>   lifetime, e.g. 30m, 12h, 7d (default 12h)
  -h, --help         this text`,
  options: {
    user: { type: 'string' },
    roles: { type: 'string', default: 'trader' },
    expires: { type: 'string', default: '12h' },
  },
});
if (values.user === undefined || values.user === '') usageError(NAME, '--user <id> is required');
const roles = values.roles.split(',').filter((r) => r !== '');
const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
if (unknown.length > 0)
  usageError(NAME, `unknown role(s): ${unknown.join(', ')} (known: ${ROLES.join(', ')})`);
if (!/^[0-9]+[smhdw]$/.test(values.expires))
  usageError(
    NAME,
    `--expires must be a number and a unit (s, m, h, d, w), e.g. 12h; got ${JSON.stringify(values.expires)}`,
  );
const config = loadConfig();
console.log(await new Authenticator(config.JWT_SECRET).mint(values.user, roles as Role[], values.expires));
