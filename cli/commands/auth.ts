import { stringOption, type Command, type CommandContext } from '../command.ts';
import { hashPassword, isRole, readAuthFile, ROLES, withoutUser, withUser, writeAuthFile } from '../../broker/index.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';

const ACTIONS = ['add-user', 'remove-user', 'list'] as const;

function required(ctx: CommandContext, name: string): string {
  const value = stringOption(ctx.values, name);
  if (value === undefined || value === '') throw new EdgeweaveError('E_USAGE', `--${name} is required`);
  return value;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function passwordFrom(ctx: CommandContext): Promise<string> {
  const inline = stringOption(ctx.values, 'password');
  const fromStdin = ctx.values['password-stdin'] === true;
  if ((inline === undefined) === !fromStdin) throw new EdgeweaveError('E_USAGE', 'give exactly one of --password <p> or --password-stdin');
  const password = inline ?? (await readStdin());
  if (password.length === 0) throw new EdgeweaveError('E_USAGE', 'the password is empty');
  if (inline !== undefined) ctx.log.warn('--password is visible to other users of this machine (process list, shell history); prefer --password-stdin');
  return password;
}

async function addUser(ctx: CommandContext, file: string): Promise<number> {
  const user = required(ctx, 'user');
  const role = required(ctx, 'role');
  if (!isRole(role)) throw new EdgeweaveError('E_USAGE', `--role must be one of ${ROLES.join(', ')}, got "${role}"`);
  const password = await passwordFrom(ctx);
  const current = await readAuthFile(file, { missingOk: true });
  const replaced = Object.hasOwn(current.users, user);
  await writeAuthFile(file, withUser(current, user, role, await hashPassword(password)));
  ctx.stdout.write(ctx.values['json'] === true ? JSON.stringify({ user, role, replaced }) + '\n' : `${replaced ? 'updated' : 'added'} ${user} (${role}) in ${file}\n`);
  return 0;
}

async function removeUser(ctx: CommandContext, file: string): Promise<number> {
  const user = required(ctx, 'user');
  const { file: next, removed } = withoutUser(await readAuthFile(file), user);
  if (removed) await writeAuthFile(file, next);
  ctx.stdout.write(ctx.values['json'] === true ? JSON.stringify({ user, removed }) + '\n' : removed ? `removed ${user} from ${file}\n` : `no user ${user} in ${file}\n`);
  return removed ? 0 : 1;
}

async function listUsers(ctx: CommandContext, file: string): Promise<number> {
  const users = Object.entries((await readAuthFile(file)).users)
    .map(([user, entry]) => ({ user, role: entry.role }))
    .sort((a, b) => a.user.localeCompare(b.user));
  if (ctx.values['json'] === true) {
    ctx.stdout.write(JSON.stringify(users) + '\n');
  } else {
    const width = Math.max(4, ...users.map((u) => u.user.length));
    ctx.stdout.write([`${'user'.padEnd(width)}  role`, ...users.map((u) => `${u.user.padEnd(width)}  ${u.role}`)].join('\n') + '\n');
  }
  return 0;
}

export const command: Command = {
  name: 'auth',
  summary: 'manage the broker\'s users file (scrypt-hashed passwords, roles)',
  usage: 'add-user --file auth.json --user car1 --role device (--password <p> | --password-stdin)\n       edgeweave auth remove-user --file auth.json --user car1\n       edgeweave auth list --file auth.json [--json]',
  help: [
    ['--file <path>', 'the auth file (add-user creates it, mode 0600)'],
    ['--user <name>', 'user name = identity: 1-64 characters of [A-Za-z0-9._-]'],
    ['--role <role>', `one of ${ROLES.join(', ')}`],
    ['--password <p>', 'the password (visible in the process list; prefer --password-stdin)'],
    ['--password-stdin', 'read the password from standard input'],
    ['--json', 'machine-readable output'],
  ],
  options: {
    file: { type: 'string' },
    user: { type: 'string' },
    role: { type: 'string' },
    password: { type: 'string' },
    'password-stdin': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  allowPositionals: true,
  async run(ctx) {
    const [action, ...extra] = ctx.positionals;
    if (action === undefined || !(ACTIONS as readonly string[]).includes(action) || extra.length > 0) {
      throw new EdgeweaveError('E_USAGE', `expected one action: ${ACTIONS.join(', ')}`);
    }
    const file = required(ctx, 'file');
    switch (action as (typeof ACTIONS)[number]) {
      case 'add-user':
        return addUser(ctx, file);
      case 'remove-user':
        return removeUser(ctx, file);
      case 'list':
        return listUsers(ctx, file);
    }
  },
};
