/**
 * ResNet18 (basic blocks) and ResNet50 (bottleneck blocks), 224x224x3 -> 1000, with the
 * layer names of keras.applications (conv2_block1_1_conv, conv2_block1_add, ...).
 */
import { TopologyBuilder } from './builder.ts';
import { once, type ZooModel } from './zoo-model.ts';

const EPS = 1.001e-5;

type Block = (b: TopologyBuilder, x: string, filters: number, stride: number, name: string, channelsIn: number) => { out: string; channels: number };

function convBn(b: TopologyBuilder, x: string, name: string, filters: number, kernel: number, stride: number): string {
  const y = b.conv2d(x, `${name}_conv`, { filters, kernel, strides: stride, padding: kernel === 1 ? 'valid' : 'same' });
  return b.batchNorm(y, `${name}_bn`, EPS);
}

const basicBlock: Block = (b, x, filters, stride, name, channelsIn) => {
  const shortcut = stride !== 1 || channelsIn !== filters ? convBn(b, x, `${name}_0`, filters, 1, stride) : x;
  let y = b.activation(convBn(b, x, `${name}_1`, filters, 3, stride), `${name}_1_relu`, 'relu');
  y = convBn(b, y, `${name}_2`, filters, 3, 1);
  const sum = b.add([shortcut, y], `${name}_add`);
  return { out: b.activation(sum, `${name}_out`, 'relu'), channels: filters };
};

const bottleneckBlock: Block = (b, x, filters, stride, name, channelsIn) => {
  const shortcut = stride !== 1 || channelsIn !== 4 * filters ? convBn(b, x, `${name}_0`, 4 * filters, 1, stride) : x;
  let y = b.activation(convBn(b, x, `${name}_1`, filters, 1, stride), `${name}_1_relu`, 'relu');
  y = b.activation(convBn(b, y, `${name}_2`, filters, 3, 1), `${name}_2_relu`, 'relu');
  y = convBn(b, y, `${name}_3`, 4 * filters, 1, 1);
  const sum = b.add([shortcut, y], `${name}_add`);
  return { out: b.activation(sum, `${name}_out`, 'relu'), channels: 4 * filters };
};

function resnet(name: string, blocks: readonly number[], block: Block): ReturnType<TopologyBuilder['functional']> {
  const b = new TopologyBuilder(name);
  let x = b.input('input_1', [224, 224, 3]);
  x = b.zeroPad2d(x, 'conv1_pad', [[3, 3], [3, 3]]);
  x = b.conv2d(x, 'conv1_conv', { filters: 64, kernel: 7, strides: 2, padding: 'valid' });
  x = b.activation(b.batchNorm(x, 'conv1_bn', EPS), 'conv1_relu', 'relu');
  x = b.zeroPad2d(x, 'pool1_pad', [[1, 1], [1, 1]]);
  x = b.maxPool2d(x, 'pool1_pool', 3, 2);
  let channels = 64;
  blocks.forEach((count, stage) => {
    for (let i = 1; i <= count; i++) {
      const stride = stage > 0 && i === 1 ? 2 : 1;
      ({ out: x, channels } = block(b, x, 64 * 2 ** stage, stride, `conv${stage + 2}_block${i}`, channels));
    }
  });
  x = b.globalAvgPool2d(x, 'avg_pool');
  return b.functional([b.dense(x, 'predictions', 1000, 'softmax')]);
}

/** The last BatchNorm of each residual branch starts small (see ZooModel.weightScale). */
function branchEndScale(lastBn: string): (layer: string, role: string) => number {
  return (layer, role) => (role === 'gamma' && layer.endsWith(lastBn) ? 0.25 : layer === 'predictions' && role === 'kernel' ? 2 : 1);
}

export const resnet18: ZooModel = {
  name: 'resnet18',
  description: 'ResNet18: basic residual blocks (skip connections), 224x224x3 -> 1000',
  topology: once(() => resnet('resnet18', [2, 2, 2, 2], basicBlock)),
  weightScale: branchEndScale('_2_bn'),
};

export const resnet50: ZooModel = {
  name: 'resnet50',
  description: 'ResNet50: bottleneck residual blocks (skip connections), 224x224x3 -> 1000',
  topology: once(() => resnet('resnet50', [3, 4, 6, 3], bottleneckBlock)),
  weightScale: branchEndScale('_3_bn'),
};
