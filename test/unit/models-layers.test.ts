import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { ConfigReader, type Shape } from '../../models/layers/config.ts';
import { layerKind, supportedLayerClasses } from '../../models/layers/registry.ts';
import { normalizeTopology } from '../../models/graph/topology.ts';
import { describeLayers } from '../../models/graph/describe.ts';
import { isEdgeweaveError } from '../../schemas/errors.ts';

function describe(className: string, config: Record<string, unknown>, inputs: Shape[]): { shape: readonly number[]; params: number; flops: number } {
  const cost = layerKind(className, 'l').describe(new ConfigReader('l', className, config), inputs);
  return { shape: cost.outputShape, params: cost.params, flops: cost.flops };
}

test('models layers — Conv2D output shapes follow Keras for same/valid padding, strides and dilation', () => {
  assert.deepEqual(describe('Conv2D', { filters: 8, kernel_size: [3, 3], padding: 'same' }, [[32, 32, 3]]).shape, [32, 32, 8]);
  assert.deepEqual(describe('Conv2D', { filters: 8, kernel_size: 3, strides: 2, padding: 'same' }, [[33, 33, 3]]).shape, [17, 17, 8]);
  assert.deepEqual(describe('Conv2D', { filters: 8, kernel_size: [7, 7], strides: [2, 2], padding: 'valid' }, [[230, 230, 3]]).shape, [112, 112, 8]);
  assert.deepEqual(describe('Conv2D', { filters: 4, kernel_size: 3, dilation_rate: 2 }, [[10, 10, 1]]).shape, [6, 6, 4]);
  const c = describe('Conv2D', { filters: 64, kernel_size: [3, 3], padding: 'same', use_bias: true, activation: 'relu' }, [[224, 224, 3]]);
  assert.equal(c.params, 3 * 3 * 3 * 64 + 64);
  assert.equal(c.flops, 224 * 224 * 64 * (2 * 27 + 1 + 1));
});

test('models layers — depthwise, separable and 1-D convolutions count their weights', () => {
  assert.deepEqual(describe('DepthwiseConv2D', { kernel_size: 3, strides: 2, padding: 'valid', use_bias: false }, [[225, 225, 32]]), { shape: [112, 112, 32], params: 288, flops: 112 * 112 * 32 * 18 });
  assert.equal(describe('SeparableConv2D', { filters: 16, kernel_size: 3, padding: 'same', depth_multiplier: 2 }, [[8, 8, 4]]).params, 9 * 8 + 8 * 16 + 16);
  assert.deepEqual(describe('Conv1D', { filters: 32, kernel_size: [5], padding: 'valid' }, [[64, 6]]).shape, [60, 32]);
});

test('models layers — Dense on rank-2 and rank-3 inputs, BatchNorm and merges', () => {
  assert.deepEqual(describe('Dense', { units: 4096 }, [[25088]]), { shape: [4096], params: 25088 * 4096 + 4096, flops: 4096 * (2 * 25088 + 1) });
  assert.deepEqual(describe('Dense', { units: 3, use_bias: false }, [[5, 7]]).shape, [5, 3]);
  assert.equal(describe('BatchNormalization', { axis: -1 }, [[4, 4, 10]]).params, 40);
  assert.equal(describe('BatchNormalization', { axis: [3], scale: false }, [[4, 4, 10]]).params, 30);
  assert.deepEqual(describe('Concatenate', { axis: -1 }, [[8, 8, 3], [8, 8, 5]]).shape, [8, 8, 8]);
  assert.deepEqual(describe('Concatenate', { axis: 1 }, [[2, 3], [4, 3]]).shape, [6, 3]);
  assert.deepEqual(describe('Add', {}, [[8, 8, 3], [8, 8, 3]]).shape, [8, 8, 3]);
  assert.throws(() => describe('Add', {}, [[8, 8, 3], [8, 8, 4]]), /cannot merge/);
});

test('models layers — pooling, padding, reshape and global pooling', () => {
  assert.deepEqual(describe('MaxPooling2D', { pool_size: [3, 3], strides: [2, 2], padding: 'same' }, [[64, 64, 8]]).shape, [32, 32, 8]);
  assert.deepEqual(describe('AveragePooling2D', { pool_size: 2 }, [[9, 9, 8]]).shape, [4, 4, 8]);
  assert.deepEqual(describe('ZeroPadding2D', { padding: [[0, 1], [0, 1]] }, [[112, 112, 8]]).shape, [113, 113, 8]);
  assert.deepEqual(describe('ZeroPadding2D', { padding: 3 }, [[224, 224, 3]]).shape, [230, 230, 3]);
  assert.deepEqual(describe('Reshape', { target_shape: [-1, 4] }, [[2, 3, 4]]).shape, [6, 4]);
  assert.deepEqual(describe('Flatten', {}, [[7, 7, 512]]).shape, [25088]);
  assert.deepEqual(describe('GlobalAveragePooling2D', {}, [[7, 7, 512]]).shape, [512]);
  assert.deepEqual(describe('GlobalAveragePooling1D', {}, [[30, 64]]).shape, [64]);
});

test('models layers — an unsupported class is an E_UNSUPPORTED_LAYER naming the layer and its class', () => {
  assert.throws(() => layerKind('LSTM', 'encoder_rnn'), (err: unknown) => {
    assert.ok(isEdgeweaveError(err));
    assert.equal(err.code, 'E_UNSUPPORTED_LAYER');
    assert.match(err.message, /layer "encoder_rnn" has class LSTM/);
    return true;
  });
  assert.ok(supportedLayerClasses().includes('Conv2D'));
  assert.throws(() => describe('Conv2D', { filters: 2, kernel_size: 3, data_format: 'channels_first' }, [[3, 8, 8]]), /channels_first/);
  assert.throws(() => describe('Conv2D', { filters: 2, kernel_size: 3, groups: 2 }, [[8, 8, 4]]), /groups=2/);
});

test('models layers — every unsupported layer of a topology is named at once', () => {
  const topology = {
    class_name: 'Sequential',
    config: { name: 's', layers: [
      { class_name: 'LSTM', config: { name: 'rnn', units: 3, batch_input_shape: [null, 5, 2] } },
      { class_name: 'Conv2DTranspose', config: { name: 'up', filters: 2, kernel_size: 3 } },
    ] },
  };
  assert.throws(() => describeLayers(normalizeTopology(topology)), (err: unknown) => {
    assert.ok(isEdgeweaveError(err) && err.code === 'E_UNSUPPORTED_LAYER');
    assert.match(err.message, /"rnn" has class LSTM; layer "up" has class Conv2DTranspose/);
    return true;
  });
});

test('models topology — Sequential gets the implicit input tfjs names <first layer>_input', () => {
  const g = normalizeTopology({ class_name: 'Sequential', config: { name: 'seq', layers: [
    { class_name: 'Dense', config: { name: 'd1', units: 3, batch_input_shape: [null, 4] } },
    { class_name: 'Dense', config: { name: 'd2', units: 2 } },
  ] } });
  assert.deepEqual(g.inputs, ['d1_input']);
  assert.deepEqual(g.outputs, ['d2']);
  assert.deepEqual(g.layers.map((l) => [l.name, l.inbound]), [['d1_input', []], ['d1', ['d1_input']], ['d2', ['d1']]]);
});

test('models topology — shared layers, Keras 3 files and dynamic input shapes are refused clearly', () => {
  const functional = (inbound: unknown, shape: unknown[] = [null, 4]): unknown => ({
    class_name: 'Model',
    config: {
      name: 'f',
      layers: [
        { name: 'x', class_name: 'InputLayer', config: { name: 'x', batch_input_shape: shape }, inbound_nodes: [] },
        { name: 'd', class_name: 'Dense', config: { name: 'd', units: 2 }, inbound_nodes: inbound },
      ],
      input_layers: [['x', 0, 0]],
      output_layers: [['d', 0, 0]],
    },
  });
  assert.throws(() => normalizeTopology(functional([[['x', 0, 0, {}]], [['x', 0, 0, {}]]])), /applied 2 times/);
  assert.throws(() => normalizeTopology(functional([{ args: [], kwargs: {} }])), /Keras 3/);
  assert.throws(() => describeLayers(normalizeTopology(functional([[['x', 0, 0, {}]]], [null, null]))), /not fixed/);
  assert.equal(normalizeTopology({ model_config: functional([[['x', 0, 0, {}]]]) }).layers.length, 2);
});
