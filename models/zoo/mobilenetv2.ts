/**
 * MobileNetV2 (Sandler et al.), alpha 1.0, 224x224x3 -> 1000, with the layer names of
 * keras.applications: inverted residual blocks (expand 1x1, depthwise 3x3, linear project
 * 1x1) with a skip connection where shapes allow.
 */
import { TopologyBuilder } from './builder.ts';
import { once, type ZooModel } from './zoo-model.ts';

/** (filters, stride, expansion) of blocks 0..16. */
const BLOCKS: ReadonlyArray<[number, number, number]> = [
  [16, 1, 1],
  [24, 2, 6], [24, 1, 6],
  [32, 2, 6], [32, 1, 6], [32, 1, 6],
  [64, 2, 6], [64, 1, 6], [64, 1, 6], [64, 1, 6],
  [96, 1, 6], [96, 1, 6], [96, 1, 6],
  [160, 2, 6], [160, 1, 6], [160, 1, 6],
  [320, 1, 6],
];

function invertedResidual(b: TopologyBuilder, x: string, channelsIn: number, block: number, [filters, stride, expansion]: [number, number, number]): string {
  const prefix = block === 0 ? 'expanded_conv_' : `block_${block}_`;
  let y = x;
  if (block !== 0) {
    y = b.conv2d(y, `${prefix}expand`, { filters: expansion * channelsIn, kernel: 1, useBias: false });
    y = b.relu6(b.batchNorm(y, `${prefix}expand_BN`), `${prefix}expand_relu`);
  }
  if (stride === 2) y = b.zeroPad2d(y, `${prefix}pad`, [[0, 1], [0, 1]]);
  y = b.depthwiseConv2d(y, `${prefix}depthwise`, { kernel: 3, strides: stride, padding: stride === 1 ? 'same' : 'valid', useBias: false });
  y = b.relu6(b.batchNorm(y, `${prefix}depthwise_BN`), `${prefix}depthwise_relu`);
  y = b.conv2d(y, `${prefix}project`, { filters, kernel: 1, useBias: false });
  y = b.batchNorm(y, `${prefix}project_BN`);
  return channelsIn === filters && stride === 1 ? b.add([x, y], `${prefix}add`) : y;
}

export const mobilenetv2: ZooModel = {
  name: 'mobilenetv2',
  description: 'MobileNetV2: inverted residual blocks with depthwise convolutions, 224x224x3 -> 1000',
  topology: once(() => {
    const b = new TopologyBuilder('mobilenetv2');
    let x = b.input('input_1', [224, 224, 3]);
    x = b.conv2d(x, 'Conv1', { filters: 32, kernel: 3, strides: 2, useBias: false });
    x = b.relu6(b.batchNorm(x, 'bn_Conv1'), 'Conv1_relu');
    let channels = 32;
    BLOCKS.forEach((spec, i) => {
      x = invertedResidual(b, x, channels, i, spec);
      channels = spec[0];
    });
    x = b.conv2d(x, 'Conv_1', { filters: 1280, kernel: 1, useBias: false });
    x = b.relu6(b.batchNorm(x, 'Conv_1_bn'), 'out_relu');
    x = b.globalAvgPool2d(x, 'global_average_pooling2d');
    return b.functional([b.dense(x, 'predictions', 1000, 'softmax')]);
  }),
  weightScale: (layer, role) => (layer === 'predictions' && role === 'kernel' ? 6 : 1),
};
