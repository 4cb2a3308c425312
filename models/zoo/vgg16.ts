/** VGG16 (Simonyan & Zisserman), Keras layer names, 224x224x3 -> 1000 classes, 138M parameters. */
import { TopologyBuilder } from './builder.ts';
import { once, type ZooModel } from './zoo-model.ts';

const BLOCKS: ReadonlyArray<[filters: number, convs: number]> = [[64, 2], [128, 2], [256, 3], [512, 3], [512, 3]];

export const vgg16: ZooModel = {
  name: 'vgg16',
  description: 'VGG16: 13 convolutions and three huge fully-connected layers, 224x224x3 -> 1000',
  topology: once(() => {
    const b = new TopologyBuilder('vgg16');
    let x = b.input('input_1', [224, 224, 3]);
    BLOCKS.forEach(([filters, convs], i) => {
      for (let c = 1; c <= convs; c++) x = b.conv2d(x, `block${i + 1}_conv${c}`, { filters, kernel: 3, activation: 'relu' });
      x = b.maxPool2d(x, `block${i + 1}_pool`, 2, 2);
    });
    x = b.flatten(x, 'flatten');
    x = b.dense(x, 'fc1', 4096, 'relu');
    x = b.dense(x, 'fc2', 4096, 'relu');
    return b.functional([b.dense(x, 'predictions', 1000, 'softmax')]);
  }),
  weightScale: (layer, role) => (layer === 'predictions' && role === 'kernel' ? 2 : 1),
};
