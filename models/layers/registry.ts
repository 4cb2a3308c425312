/**
 * The registry of layer kinds, keyed by Keras class name. A class missing here is a layer
 * edgeweave cannot place or slice: `layerKind` throws E_UNSUPPORTED_LAYER naming it.
 */
import { EdgeweaveError } from '../../schemas/errors.ts';
import { CONV_KINDS } from './conv.ts';
import { CORE_KINDS } from './core.ts';
import { ELEMENTWISE_KINDS } from './elementwise.ts';
import type { LayerKind } from './kind.ts';
import { MERGE_KINDS } from './merge.ts';
import { POOLING_KINDS } from './pooling.ts';

const KINDS: ReadonlyMap<string, LayerKind> = new Map(
  Object.entries({ ...CORE_KINDS, ...CONV_KINDS, ...POOLING_KINDS, ...ELEMENTWISE_KINDS, ...MERGE_KINDS }),
);

/** The kind of a layer class; throws E_UNSUPPORTED_LAYER naming the layer and its class. */
export function layerKind(className: string, layerName: string): LayerKind {
  const kind = KINDS.get(className);
  if (!kind) throw unsupportedLayersError([{ name: layerName, className }]);
  return kind;
}

export function isSupportedLayerClass(className: string): boolean {
  return KINDS.has(className);
}

/** One error naming every unsupported layer and its class. */
export function unsupportedLayersError(layers: ReadonlyArray<{ name: string; className: string }>): EdgeweaveError {
  const named = layers.map((l) => `layer "${l.name}" has class ${l.className}`).join('; ');
  return new EdgeweaveError(
    'E_UNSUPPORTED_LAYER',
    `${named}: edgeweave cannot place or slice ${layers.length === 1 ? 'it' : 'them'} (supported classes: ${supportedLayerClasses().join(', ')})`,
  );
}

export function supportedLayerClasses(): string[] {
  return [...KINDS.keys()].sort();
}
