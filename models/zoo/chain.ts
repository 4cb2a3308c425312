/** A linear chain: a small Sequential CNN (32x32x3 -> 10 classes), as the original notes started with. */
import { TopologyBuilder } from './builder.ts';
import { once, type ZooModel } from './zoo-model.ts';

export const CIFAR10_LABELS = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const;

export const chain: ZooModel = {
  name: 'chain',
  description: 'linear chain: small Sequential CNN, 32x32x3 -> 10 classes',
  labels: CIFAR10_LABELS,
  topology: once(() => {
    const b = new TopologyBuilder('chain');
    let x = b.input('image', [32, 32, 3]);
    x = b.conv2d(x, 'conv1', { filters: 16, kernel: 3, activation: 'relu' });
    x = b.maxPool2d(x, 'pool1', 2, 2);
    x = b.conv2d(x, 'conv2', { filters: 32, kernel: 3, activation: 'relu' });
    x = b.maxPool2d(x, 'pool2', 2, 2);
    x = b.flatten(x, 'flatten');
    x = b.dense(x, 'fc1', 64, 'relu');
    x = b.dropout(x, 'dropout', 0.25);
    b.dense(x, 'predictions', CIFAR10_LABELS.length, 'softmax');
    return b.sequential();
  }),
};
