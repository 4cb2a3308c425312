/**
 * A two-input fusion model: a camera image and a second sensor's time series (say an IMU
 * or radar, 64 steps x 6 channels) are encoded separately and merged mid-network, so the
 * data comes from more than one device. 96x96x3 + 64x6 -> 8 road-scene classes.
 */
import { TopologyBuilder } from './builder.ts';
import { once, type ZooModel } from './zoo-model.ts';

export const SCENE_LABELS = ['free road', 'car', 'truck', 'bus', 'cyclist', 'pedestrian', 'animal', 'obstacle'] as const;

export const fusion: ZooModel = {
  name: 'fusion',
  description: 'two-input fusion: camera 96x96x3 and sensor 64x6 merged mid-network -> 8 classes',
  labels: SCENE_LABELS,
  topology: once(() => {
    const b = new TopologyBuilder('fusion');
    let img = b.input('camera', [96, 96, 3]);
    [32, 64, 128].forEach((filters, i) => {
      const n = `cam${i + 1}`;
      img = b.conv2d(img, `${n}_conv`, { filters, kernel: 3, strides: 2, useBias: false });
      img = b.activation(b.batchNorm(img, `${n}_bn`), `${n}_relu`, 'relu');
    });
    img = b.globalAvgPool2d(img, 'cam_pool');
    let sig = b.input('sensor', [64, 6]);
    sig = b.conv1d(sig, 'sensor1_conv', { filters: 32, kernel: 5, activation: 'relu' });
    sig = b.maxPool1d(sig, 'sensor1_pool', 2);
    sig = b.conv1d(sig, 'sensor2_conv', { filters: 64, kernel: 3, activation: 'relu' });
    sig = b.globalAvgPool1d(sig, 'sensor_pool');
    let x = b.concat([img, sig], 'fuse');
    x = b.dense(x, 'fc1', 128, 'relu');
    x = b.dropout(x, 'dropout', 0.3);
    return b.functional([b.dense(x, 'predictions', SCENE_LABELS.length, 'softmax')]);
  }),
};
