/**
 * The runtime behind the generated codecs: a protobufjs Root built once from the
 * descriptor, one codec per message type. Encoding takes plain objects; decoding returns
 * plain objects with every field present (defaults filled in), `bytes` fields as views
 * into the received buffer (no copy).
 */
import protobuf from 'protobufjs';
import { EdgeweaveError } from './errors.ts';

export interface MessageCodec<T, TInit> {
  /** Fully qualified protobuf name, e.g. `edgeweave.v1.Tensor`. */
  readonly typeName: string;
  encode(message: TInit): Uint8Array;
  /** Decodes; throws EdgeweaveError E_DECODE on malformed bytes. */
  decode(bytes: Uint8Array): T;
  /** A message with every field at its default, then `init` applied. */
  create(init?: TInit): T;
  /** A JSON-safe view for logs and the debug mirror (`bytes` as base64, or summarised when long). */
  toJSON(message: T | TInit): Record<string, unknown>;
}

const CONVERT: protobuf.IConversionOptions = { defaults: true, longs: Number, enums: Number, arrays: true, objects: true, oneofs: true };
const roots = new WeakMap<object, protobuf.Root>();
const JSON_BYTES_LIMIT = 64;

function rootFor(descriptor: object): protobuf.Root {
  let root = roots.get(descriptor);
  if (!root) {
    root = protobuf.Root.fromJSON(descriptor as protobuf.INamespace);
    roots.set(descriptor, root);
  }
  return root;
}

function jsonSafe(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    if (value.byteLength <= JSON_BYTES_LIMIT) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
    return `<${value.byteLength} bytes>`;
  }
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = jsonSafe(v);
    return out;
  }
  return value;
}

export function defineMessage<T, TInit>(descriptor: object, typeName: string): MessageCodec<T, TInit> {
  const type = rootFor(descriptor).lookupType(typeName);
  const shortName = typeName.slice(typeName.lastIndexOf('.') + 1);
  return {
    typeName,
    encode(message: TInit): Uint8Array {
      return type.encode(message as Record<string, unknown>).finish();
    },
    decode(bytes: Uint8Array): T {
      let decoded: protobuf.Message;
      try {
        // Read through a plain Uint8Array view: protobufjs's Buffer reader cuts a string short at
        // the end of the input instead of refusing it, so truncated messages would pass.
        // (A plain view works in browsers too, where there is no Buffer.)
        decoded = type.decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new EdgeweaveError('E_DECODE', `not a valid ${shortName} message (${bytes.byteLength} bytes): ${reason}`, { cause: err });
      }
      return type.toObject(decoded, CONVERT) as T;
    },
    create(init?: TInit): T {
      return type.toObject(type.fromObject((init ?? {}) as Record<string, unknown>), CONVERT) as T;
    },
    toJSON(message: T | TInit): Record<string, unknown> {
      return jsonSafe(message) as Record<string, unknown>;
    },
  };
}
