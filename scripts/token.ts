import { parseArgs } from 'node:util';
import { Authenticator, ROLES, type Role } from '../src/transport/auth.ts';
import { loadConfig } from '../src/config.ts';

/*
 * Mints a development token signed with JWT_SECRET (the same default as the server's):
 *   npm run token -- --user alice --roles trader[,issuer,admin] [--expires 12h]
 * Prints the token alone on stdout, so `TOKEN=$(npm run -s token -- --user alice --roles trader)`.
 */
const { values } = parseArgs({
  options: {
    user: { type: 'string' },
    roles: { type: 'string', default: 'trader' },
    expires: { type: 'string', default: '12h' },
  },
});
if (values.user === undefined || values.user === '') {
  console.error('usage: npm run token -- --user <id> [--roles trader,issuer,admin] [--expires 12h]');
  process.exit(2);
}
const roles = values.roles.split(',').filter((r) => r !== '');
const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
if (unknown.length > 0) {
  console.error(`unknown role(s): ${unknown.join(', ')} (known: ${ROLES.join(', ')})`);
  process.exit(2);
}
const config = loadConfig();
console.log(await new Authenticator(config.JWT_SECRET).mint(values.user, roles as Role[], values.expires));
