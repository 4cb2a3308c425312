/**
 * Writes a tfjs LayersModel to disk as the Python `tensorflowjs_converter` writes a Keras 2
 * model (`--input_format keras`): a `Functional` topology nested under `model_config`,
 * Keras weight names (`<layer>/<weight>`, weights listed layer by layer) and the bytes split
 * into `group1-shard{i}of{n}.bin` files. Tests use it for "bring your own converted model"
 * without downloading one.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { captureSaveHandler, MODEL_JSON } from '../../models/io/file-handler.ts';
import { weightBuffers } from '../../models/io/hash.ts';

export const KERAS_VERSION = '2.13.1';
export const CONVERTER_VERSION = '4.22.0';
/** The converter's default shard size (`--weight_shard_size_bytes`): 4 MiB. */
export const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;

export interface KerasLayoutOptions {
  /** Largest weight file (default 4 MiB); a weight may span two files. */
  shardBytes?: number | undefined;
  /** The model's name in the topology (default: the tfjs model's own name). */
  modelName?: string | undefined;
  /** Written as model.json's userDefinedMetadata. */
  metadata?: Record<string, unknown> | undefined;
  /** Written as labels.json beside model.json. */
  labels?: readonly string[] | undefined;
}

type Json = Record<string, unknown>;

const DTYPE_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1 };

/** The converter's name for weight shard `index` (0-based) of `count`. */
export function shardFileName(index: number, count: number): string {
  return `group1-shard${index + 1}of${count}.bin`;
}

/** A Keras 2 layer entry from the one tfjs wrote, config keys in Keras's order (name, trainable, dtype first). */
function kerasLayer(raw: Json): Json {
  const className = raw['class_name'] as string;
  const config = (raw['config'] ?? {}) as Json;
  const name = (raw['name'] ?? config['name']) as string;
  if (className === 'InputLayer') {
    const inputConfig = { batch_input_shape: config['batch_input_shape'], dtype: config['dtype'] ?? 'float32', sparse: config['sparse'] ?? false, ragged: false, name };
    return { class_name: className, config: inputConfig, name, inbound_nodes: [] };
  }
  const { name: _name, trainable, dtype, ...own } = config;
  const layerConfig = { name, trainable: trainable ?? true, dtype: dtype ?? 'float32', ...own };
  return { class_name: className, config: layerConfig, name, inbound_nodes: raw['inbound_nodes'] ?? [] };
}

/** tfjs's `{class_name: 'Model', config, keras_version, backend}` as the converter nests a Keras 2 Functional model. */
function kerasTopology(tfjsTopology: Json, modelName: string | undefined, trainingConfig: tf.io.TrainingConfig | undefined): Json {
  const config = tfjsTopology['config'] as Json;
  const topology: Json = {
    keras_version: KERAS_VERSION,
    backend: 'tensorflow',
    model_config: {
      class_name: 'Functional',
      config: {
        name: modelName ?? config['name'],
        trainable: true,
        layers: (config['layers'] as Json[]).map(kerasLayer),
        input_layers: config['input_layers'],
        output_layers: config['output_layers'],
      },
    },
  };
  if (trainingConfig !== undefined) topology['training_config'] = trainingConfig;
  return topology;
}

/**
 * The short name Keras gives a weight (`kernel`, `moving_mean`, ...): the last part of the
 * tfjs name (which carries the name scope it was built in) without a `_<n>` suffix. tfjs
 * saves each variable's scoped `originalName` (`conv2d/kernel`); only its process-unique
 * `name` gets the suffix (`conv2d/kernel_1` once a second model reuses the layer names),
 * but a name must never reach model.json with one.
 */
function shortWeightName(tfjsName: string): string {
  return (tfjsName.split('/').at(-1) ?? tfjsName).replace(/_\d+$/, '');
}

interface OrderedWeights {
  specs: tf.io.WeightsManifestEntry[];
  bytes: Uint8Array;
}

/**
 * The weights in the converter's order (layer by layer, each layer's weights in Keras order:
 * trainable then non-trainable), named `<layer>/<weight>`, with their bytes in that order.
 * tfjs saves `model.weights` (every trainable weight of the model, then every non-trainable
 * one) under each variable's scoped name, so specs are matched to variables by position.
 */
function kerasOrderedWeights(model: tf.LayersModel, specs: readonly tf.io.WeightsManifestEntry[], data: Uint8Array): OrderedWeights {
  const variables = model.weights;
  if (variables.length !== specs.length) throw new Error(`tfjs saved ${specs.length} weights, the model holds ${variables.length}`);
  const offsets: number[] = [];
  let offset = 0;
  const position = new Map<tf.LayerVariable, number>();
  specs.forEach((spec, i) => {
    const variable = variables[i]!;
    if (spec.name !== variable.originalName) throw new Error(`weight ${i} was saved as ${spec.name}, the model calls it ${variable.originalName}`);
    position.set(variable, i);
    offsets.push(offset);
    offset += spec.shape.reduce((a, b) => a * b, 1) * (DTYPE_BYTES[spec.dtype] ?? 4);
  });
  if (offset !== data.byteLength) throw new Error(`tfjs saved ${data.byteLength} weight bytes, its manifest describes ${offset}`);
  offsets.push(offset);

  const out: tf.io.WeightsManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  const seen = new Set<string>();
  for (const layer of model.layers) {
    for (const variable of layer.weights) {
      const i = position.get(variable);
      if (i === undefined) throw new Error(`weight ${variable.originalName} of layer ${layer.name} was not saved`);
      const spec = specs[i]!;
      const name = `${layer.name}/${shortWeightName(spec.name)}`;
      if (seen.has(name)) throw new Error(`two weights would be named ${name}`);
      seen.add(name);
      out.push({ name, shape: [...spec.shape], dtype: spec.dtype });
      chunks.push(data.subarray(offsets[i]!, offsets[i + 1]!));
      position.delete(variable);
    }
  }
  if (position.size > 0) throw new Error(`${position.size} saved weights belong to no layer`);
  return { specs: out, bytes: Buffer.concat(chunks) };
}

function concatBuffers(data: tf.io.WeightData | undefined): Uint8Array {
  return Buffer.concat(weightBuffers(data).map((b) => new Uint8Array(b)));
}

/**
 * Writes `model` into `dir` as tensorflowjs_converter writes a Keras 2 model: model.json,
 * `group1-shard{i}of{n}.bin` files of at most `shardBytes` each, and labels.json when
 * labels are given. Returns the model.json path.
 */
export async function writeKerasLayout(model: tf.LayersModel, dir: string, options: KerasLayoutOptions = {}): Promise<string> {
  const shardBytes = options.shardBytes ?? DEFAULT_SHARD_BYTES;
  if (!Number.isInteger(shardBytes) || shardBytes <= 0) throw new Error(`shardBytes must be a positive integer, got ${shardBytes}`);
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(captureSaveHandler((a) => {
    artifacts = a;
  }));
  if (!artifacts || artifacts.modelTopology === undefined || artifacts.modelTopology instanceof ArrayBuffer) throw new Error('tfjs saved no JSON topology');
  const tfjsTopology = artifacts.modelTopology as Json;
  if (tfjsTopology['class_name'] !== 'Model') throw new Error(`only functional models have a Keras 2 Functional layout, not ${String(tfjsTopology['class_name'])}`);

  const { specs, bytes } = kerasOrderedWeights(model, artifacts.weightSpecs ?? [], concatBuffers(artifacts.weightData));
  const count = Math.max(1, Math.ceil(bytes.byteLength / shardBytes));
  const paths = Array.from({ length: count }, (_, i) => shardFileName(i, count));

  const json: Json = {
    format: 'layers-model',
    generatedBy: `keras v${KERAS_VERSION}`,
    convertedBy: `TensorFlow.js Converter v${CONVERTER_VERSION}`,
    modelTopology: kerasTopology(tfjsTopology, options.modelName, artifacts.trainingConfig),
    weightsManifest: [{ paths, weights: specs }],
  };
  if (options.metadata !== undefined) json['userDefinedMetadata'] = options.metadata;

  await mkdir(dir, { recursive: true });
  await Promise.all(paths.map((p, i) => writeFile(path.join(dir, p), bytes.subarray(i * shardBytes, (i + 1) * shardBytes))));
  if (options.labels !== undefined) await writeFile(path.join(dir, 'labels.json'), JSON.stringify(options.labels));
  const file = path.join(path.resolve(dir), MODEL_JSON);
  await writeFile(file, JSON.stringify(json));
  return file;
}

/**
 * A small functional model named and shaped like one built with Keras 2 defaults: a
 * conv/bn/relu chain (`conv2d` ... `re_lu_1`), then a fork into three paths — a depthwise
 * path and the identity rejoined by `add`, and a 1x1 conv path rejoined by `concatenate` —
 * then `conv2d_4`, global pooling and a Dense softmax head of 10 classes. Every weight,
 * batch-norm moving statistics included, comes from an initialiser seeded from `seed`.
 * About 100k parameters (~390 KB).
 */
export function kerasStyleBranchedModel(name = 'model_1', seed = 1): tf.LayersModel {
  let next = seed * 1000;
  const glorot = (): ReturnType<typeof tf.initializers.glorotUniform> => tf.initializers.glorotUniform({ seed: next++ });
  const small = (): ReturnType<typeof tf.initializers.glorotUniform> => tf.initializers.randomNormal({ mean: 0, stddev: 0.05, seed: next++ });
  const conv = (layerName: string, filters: number, kernelSize: number, strides = 1, useBias = true): tf.layers.Layer => tf.layers.conv2d({
    name: layerName, filters, kernelSize, strides, padding: 'same', useBias, kernelInitializer: glorot(), biasInitializer: small(),
  });
  const bn = (layerName: string): tf.layers.Layer => tf.layers.batchNormalization({
    name: layerName,
    gammaInitializer: tf.initializers.randomUniform({ minval: 0.8, maxval: 1.2, seed: next++ }),
    betaInitializer: small(),
    movingMeanInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.1, seed: next++ }),
    movingVarianceInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: next++ }),
  });
  const relu = (layerName: string): tf.layers.Layer => tf.layers.reLU({ name: layerName });
  const chain = (x: tf.SymbolicTensor, ...layers: tf.layers.Layer[]): tf.SymbolicTensor => layers.reduce((t, l) => l.apply(t) as tf.SymbolicTensor, x);

  const input = tf.input({ shape: [32, 32, 3], name: 'input_1' });
  const stem = chain(input,
    conv('conv2d', 16, 3, 2, false), bn('batch_normalization'), relu('re_lu'),
    conv('conv2d_1', 64, 3), bn('batch_normalization_1'), relu('re_lu_1'));
  const depthwise = chain(stem,
    tf.layers.depthwiseConv2d({ name: 'depthwise_conv2d', kernelSize: 3, padding: 'same', depthwiseInitializer: glorot(), biasInitializer: small() }),
    bn('batch_normalization_2'), relu('re_lu_2'), conv('conv2d_2', 64, 1));
  const pointwise = chain(stem, conv('conv2d_3', 64, 1), bn('batch_normalization_3'));
  const residual = tf.layers.add({ name: 'add' }).apply([stem, depthwise]) as tf.SymbolicTensor;
  const joined = tf.layers.concatenate({ name: 'concatenate' }).apply([residual, pointwise]) as tf.SymbolicTensor;
  const output = chain(joined,
    conv('conv2d_4', 64, 3), relu('re_lu_3'),
    tf.layers.globalAveragePooling2d({ name: 'global_average_pooling2d' }),
    tf.layers.dense({ name: 'dense', units: 64, activation: 'relu', kernelInitializer: glorot(), biasInitializer: small() }),
    tf.layers.dense({ name: 'dense_1', units: 10, activation: 'softmax', kernelInitializer: glorot(), biasInitializer: small() }));
  return tf.model({ inputs: input, outputs: output, name });
}
