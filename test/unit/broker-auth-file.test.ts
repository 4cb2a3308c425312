import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { emptyAuthFile, parseAuthFile, serializeAuthFile, withoutUser, withUser } from '../../broker/auth-file.ts';
import { hashPassword, parsePasswordHash, verifyPassword } from '../../broker/password.ts';
import { isEdgeweaveError } from '../../schemas/errors.ts';

const FAST = { N: 1024, r: 8, p: 1 };

function assertConfigError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => isEdgeweaveError(err) && err.code === 'E_CONFIG' && pattern.test(err.message));
}

describe('broker auth file and passwords', () => {
  it('password — scrypt$N$r$p$salt$hash round-trips, salted, and rejects a wrong password', async () => {
    const a = await hashPassword('s3cret', FAST);
    const b = await hashPassword('s3cret', FAST);
    assert.match(a, /^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    assert.notEqual(a, b, 'each hash has its own salt');
    assert.equal(await verifyPassword('s3cret', a), true);
    assert.equal(await verifyPassword('s3cret!', a), false);
    assert.equal(await verifyPassword('', a), false);
  });

  it('password — malformed or dangerous parameters are refused, never computed', async () => {
    const salt = Buffer.alloc(16).toString('base64');
    const hash = Buffer.alloc(32).toString('base64');
    for (const bad of ['plain', 'bcrypt$x', `scrypt$1000$8$1$${salt}$${hash}`, `scrypt$${2 ** 30}$8$1$${salt}$${hash}`, `scrypt$1024$99$1$${salt}$${hash}`, `scrypt$1024$8$1$$${hash}`]) {
      assert.equal(typeof parsePasswordHash(bad), 'string', bad);
      assert.equal(await verifyPassword('x', bad), false);
    }
  });

  it('auth file — parses users and roles, refuses bad names, roles and plain passwords', async () => {
    const hash = await hashPassword('pw', FAST);
    const file = parseAuthFile({ version: 1, users: { car1: { role: 'device', password: hash } } });
    assert.deepEqual(file.users['car1'], { role: 'device', password: hash });
    assertConfigError(() => parseAuthFile([]), /JSON object/);
    assertConfigError(() => parseAuthFile({ version: 2, users: {} }), /version/);
    assertConfigError(() => parseAuthFile({ version: 1, users: { 'car/1': { role: 'device', password: hash } } }), /user name/);
    assertConfigError(() => parseAuthFile({ version: 1, users: { car1: { role: 'king', password: hash } } }), /role/);
    assertConfigError(() => parseAuthFile({ version: 1, users: { car1: { role: 'device', password: 'hunter2' } } }), /malformed password hash/);
    assertConfigError(() => parseAuthFile({ version: 1, users: { car1: { role: 'device' } } }), /no password hash/);
  });

  it('auth file — adding, replacing and removing users returns new files; serialization is stable', async () => {
    const h1 = await hashPassword('one', FAST);
    const h2 = await hashPassword('two', FAST);
    const a = withUser(withUser(emptyAuthFile(), 'zed', 'observer', h1), 'amy', 'admin', h2);
    const b = withUser(a, 'zed', 'planner', h2);
    assert.equal(a.users['zed']?.role, 'observer', 'the original is not changed');
    assert.equal(b.users['zed']?.role, 'planner');
    assert.deepEqual(Object.keys(JSON.parse(serializeAuthFile(b)).users), ['amy', 'zed']);
    assert.equal(serializeAuthFile(parseAuthFile(JSON.parse(serializeAuthFile(b)))), serializeAuthFile(b));
    const { file, removed } = withoutUser(b, 'zed');
    assert.equal(removed, true);
    assert.deepEqual(Object.keys(file.users), ['amy']);
    assert.equal(withoutUser(file, 'nobody').removed, false);
    assert.throws(() => withUser(file, 'bad name', 'device', h1), (err: unknown) => isEdgeweaveError(err) && err.code === 'E_USAGE');
  });
});
