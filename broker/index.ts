/**
 * The broker's public surface. Everything else in broker/ is internal; nothing
 * outside broker/ imports aedes.
 */
export { startBroker, DEFAULT_MAX_PAYLOAD_BYTES, type BrokerHandle, type BrokerOptions } from './start.ts';
export type { TlsOptions, HttpHandler } from './listeners.ts';
export { parsePersistence } from './persistence.ts';
export type { PersistenceSpec } from './persistence.ts';
export { DEFAULT_SHARED_INFLIGHT, type SharedSubscriptionOptions, type ShareGroupInfo } from './shared-subscriptions.ts';
export { ACL_TABLE, ROLES, isRole, type Role, type RoleRules } from './acl-table.ts';
export { compileAcl, type Acl } from './acl.ts';
export {
  readAuthFile,
  writeAuthFile,
  parseAuthFile,
  serializeAuthFile,
  emptyAuthFile,
  withUser,
  withoutUser,
  isValidUserName,
  type AuthFile,
  type AuthUser,
} from './auth-file.ts';
export { hashPassword, verifyPassword, DEFAULT_SCRYPT_PARAMS, type ScryptParams } from './password.ts';
export { filterCovers, parseSharedSubscription, type SharedFilter } from './topic-filter.ts';
