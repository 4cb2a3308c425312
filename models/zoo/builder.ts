/**
 * Builds Keras-format model topologies (what model.json holds) as plain data, so a zoo
 * model's DAG is known without tfjs and without allocating weights. Every weight
 * initialiser is Zeros (fast to build); weights are filled afterwards from a seeded PRNG.
 */
import { EdgeweaveError } from '../../schemas/errors.ts';

export type Json = Record<string, unknown>;

/** A modelTopology object as tfjs writes it in model.json. */
export interface KerasTopology {
  class_name: 'Model' | 'Sequential';
  config: Json;
  keras_version: string;
  backend: string;
}

interface LayerEntry {
  name: string;
  class_name: string;
  config: Json;
  inbound_nodes: unknown[];
}

const ZEROS = { class_name: 'Zeros', config: {} };
const KERAS_VERSION = 'tfjs-layers 4.22.0';

export type Padding = 'same' | 'valid';

export interface ConvOptions {
  filters: number;
  kernel: number;
  strides?: number;
  padding?: Padding;
  activation?: string;
  useBias?: boolean;
}

export class TopologyBuilder {
  private readonly modelName: string;
  private readonly layers: LayerEntry[] = [];
  private readonly inputs: string[] = [];

  constructor(modelName: string) {
    this.modelName = modelName;
  }

  /** Adds any layer; returns its name, which is how later layers refer to its output. */
  layer(className: string, name: string, config: Json, inputs: readonly string[]): string {
    if (this.layers.some((l) => l.name === name)) throw new EdgeweaveError('E_CONFIG', `zoo model ${this.modelName}: duplicate layer name ${name}`);
    const inbound = inputs.length === 0 ? [] : [inputs.map((x) => [x, 0, 0, {}])];
    this.layers.push({ name, class_name: className, config: { name, trainable: true, ...config }, inbound_nodes: inbound });
    return name;
  }

  input(name: string, shape: readonly number[]): string {
    this.inputs.push(name);
    const config = { batch_input_shape: [null, ...shape], dtype: 'float32', sparse: false, name };
    this.layers.push({ name, class_name: 'InputLayer', config, inbound_nodes: [] });
    return name;
  }

  conv2d(x: string, name: string, o: ConvOptions): string {
    const s = o.strides ?? 1;
    return this.layer('Conv2D', name, {
      filters: o.filters, kernel_size: [o.kernel, o.kernel], strides: [s, s], padding: o.padding ?? 'same',
      data_format: 'channels_last', dilation_rate: [1, 1], activation: o.activation ?? 'linear', use_bias: o.useBias ?? true,
      kernel_initializer: ZEROS, bias_initializer: ZEROS,
    }, [x]);
  }

  depthwiseConv2d(x: string, name: string, o: Omit<ConvOptions, 'filters'>): string {
    const s = o.strides ?? 1;
    return this.layer('DepthwiseConv2D', name, {
      kernel_size: [o.kernel, o.kernel], strides: [s, s], padding: o.padding ?? 'same', depth_multiplier: 1,
      data_format: 'channels_last', dilation_rate: [1, 1], activation: o.activation ?? 'linear', use_bias: o.useBias ?? true,
      depthwise_initializer: ZEROS, bias_initializer: ZEROS,
    }, [x]);
  }

  conv1d(x: string, name: string, o: ConvOptions): string {
    return this.layer('Conv1D', name, {
      filters: o.filters, kernel_size: [o.kernel], strides: [o.strides ?? 1], padding: o.padding ?? 'same',
      dilation_rate: [1], activation: o.activation ?? 'linear', use_bias: o.useBias ?? true,
      kernel_initializer: ZEROS, bias_initializer: ZEROS,
    }, [x]);
  }

  dense(x: string, name: string, units: number, activation = 'linear'): string {
    return this.layer('Dense', name, { units, activation, use_bias: true, kernel_initializer: ZEROS, bias_initializer: ZEROS }, [x]);
  }

  batchNorm(x: string, name: string, epsilon = 1e-3): string {
    return this.layer('BatchNormalization', name, { axis: -1, momentum: 0.99, epsilon, center: true, scale: true }, [x]);
  }

  activation(x: string, name: string, activation: string): string {
    return this.layer('Activation', name, { activation }, [x]);
  }

  relu6(x: string, name: string): string {
    return this.layer('ReLU', name, { max_value: 6 }, [x]);
  }

  maxPool2d(x: string, name: string, pool: number, strides: number, padding: Padding = 'valid'): string {
    return this.layer('MaxPooling2D', name, { pool_size: [pool, pool], strides: [strides, strides], padding, data_format: 'channels_last' }, [x]);
  }

  avgPool2d(x: string, name: string, pool: number, strides: number, padding: Padding = 'valid'): string {
    return this.layer('AveragePooling2D', name, { pool_size: [pool, pool], strides: [strides, strides], padding, data_format: 'channels_last' }, [x]);
  }

  maxPool1d(x: string, name: string, pool: number): string {
    return this.layer('MaxPooling1D', name, { pool_size: [pool], strides: [pool], padding: 'valid' }, [x]);
  }

  globalAvgPool2d(x: string, name: string): string {
    return this.layer('GlobalAveragePooling2D', name, { data_format: 'channels_last' }, [x]);
  }

  globalAvgPool1d(x: string, name: string): string {
    return this.layer('GlobalAveragePooling1D', name, {}, [x]);
  }

  zeroPad2d(x: string, name: string, padding: [[number, number], [number, number]]): string {
    return this.layer('ZeroPadding2D', name, { padding, data_format: 'channels_last' }, [x]);
  }

  flatten(x: string, name: string): string {
    return this.layer('Flatten', name, {}, [x]);
  }

  dropout(x: string, name: string, rate: number): string {
    return this.layer('Dropout', name, { rate }, [x]);
  }

  add(xs: readonly string[], name: string): string {
    return this.layer('Add', name, {}, xs);
  }

  concat(xs: readonly string[], name: string): string {
    return this.layer('Concatenate', name, { axis: -1 }, xs);
  }

  /** A functional model (class Model) with the given outputs. */
  functional(outputs: readonly string[]): KerasTopology {
    return {
      class_name: 'Model',
      config: {
        name: this.modelName,
        layers: this.layers,
        input_layers: this.inputs.map((n) => [n, 0, 0]),
        output_layers: outputs.map((n) => [n, 0, 0]),
      },
      keras_version: KERAS_VERSION,
      backend: 'tensor_flow.js',
    };
  }

  /** A Sequential model; every layer must consume the one before it. */
  sequential(): KerasTopology {
    const [input, ...rest] = this.layers;
    if (!input || input.class_name !== 'InputLayer' || rest.length === 0) throw new EdgeweaveError('E_CONFIG', `zoo model ${this.modelName}: a Sequential model needs an input and layers`);
    let prev = input.name;
    const layers = rest.map((l, i) => {
      const inbound = l.inbound_nodes[0] as unknown[][] | undefined;
      if (inbound?.length !== 1 || inbound[0]?.[0] !== prev) throw new EdgeweaveError('E_CONFIG', `zoo model ${this.modelName}: layer ${l.name} breaks the chain`);
      prev = l.name;
      const config = i === 0 ? { ...l.config, batch_input_shape: input.config['batch_input_shape'], dtype: 'float32' } : l.config;
      return { class_name: l.class_name, config };
    });
    return { class_name: 'Sequential', config: { name: this.modelName, layers }, keras_version: KERAS_VERSION, backend: 'tensor_flow.js' };
  }
}
