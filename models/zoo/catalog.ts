/** The zoo: every built-in model by name. */
import { chain } from './chain.ts';
import { fusion } from './fusion.ts';
import { inception } from './inception.ts';
import { mobilenetv2 } from './mobilenetv2.ts';
import { resnet18, resnet50 } from './resnet.ts';
import { vgg16 } from './vgg16.ts';
import type { ZooModel } from './zoo-model.ts';

const ZOO: ReadonlyMap<string, ZooModel> = new Map([chain, vgg16, resnet18, resnet50, mobilenetv2, inception, fusion].map((m) => [m.name, m]));

export function zooModelNames(): string[] {
  return [...ZOO.keys()];
}

export function zooModel(name: string): ZooModel | undefined {
  return ZOO.get(name);
}

/** Name, description and whether it carries class labels, for every zoo model. */
export function listZooModels(): Array<{ name: string; description: string; labels: boolean }> {
  return [...ZOO.values()].map((m) => ({ name: m.name, description: m.description, labels: m.labels !== undefined }));
}
