import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FleetModels, type ModelHolder } from '../../models/fleet-models.ts';
import { cardLayerGraph, modelLabel, topologySha256 } from '../../models/model-card.ts';
import { pixelQuantisation, preprocessedRange, preprocessPixels, preprocessingOf, PREPROCESSING_MODES } from '../../models/preprocessing.ts';
import { zooModel } from '../../models/zoo/catalog.ts';
import { holdsModel } from '../../planner/device-registry.ts';
import { DeviceStatus, ModelCard } from '../../schemas/generated/edgeweave.ts';
import { isEdgeweaveError } from '../../schemas/errors.ts';

const hash = (c: string): string => c.repeat(64);
const H1 = hash('a');
const H2 = hash('b');
const H3 = `${'a'.repeat(8)}${'c'.repeat(56)}`;

function card(name: string, sha256: string, zoo = 'chain'): ModelCard {
  const topology = zooModel(zoo)!.topology();
  return ModelCard.create({ model: { name, sha256 }, topologyJson: JSON.stringify(topology), topologySha256: topologySha256(topology) });
}

function holder(deviceId: string, refs: Array<[string, string]>, alive = true): ModelHolder {
  return { deviceId, alive, modelRefs: refs.map(([name, sha256]) => ({ name, sha256 })), modelProblems: [] };
}

function code(c: string, pattern?: RegExp): (err: unknown) => boolean {
  return (err) => isEdgeweaveError(err) && err.code === c && (pattern === undefined || pattern.test(err.message));
}

describe('fleet models', () => {
  test('fleet models — resolving by id, by hash and by hash prefix', () => {
    const fleet = new FleetModels();
    assert.equal(fleet.putCard(H1, card('net', H1)), undefined);
    assert.equal(fleet.putCard(H2, card('other', H2, 'vgg16')), undefined);
    const holders = [holder('car1', [['net', H1], ['other', H2]])];
    assert.deepEqual(fleet.resolve({ name: 'net', sha256: '' }, holders), { id: 'net', sha256: H1 });
    assert.deepEqual(fleet.resolve({ name: '', sha256: H2 }, holders), { id: 'other', sha256: H2 });
    assert.deepEqual(fleet.resolve({ name: '', sha256: 'bbbbbbbb' }, holders), { id: 'other', sha256: H2 });
    assert.deepEqual(fleet.resolve({ name: 'bbbbbbbbbb', sha256: '' }, holders), { id: 'other', sha256: H2 }, 'a hash prefix given as the name');
    assert.equal(fleet.resolve({ name: 'nothing', sha256: '' }, holders), undefined);
    assert.throws(() => fleet.resolve({ name: '', sha256: 'xyz' }, holders), code('E_MODEL_NOT_FOUND', /not a sha256/));
    assert.equal(fleet.taskGraph(H1, { fused: true })?.modelId, 'net');
    assert.strictEqual(fleet.taskGraph(H1, { fused: true }), fleet.taskGraph(H1, { fused: true }), 'memoised per options');
  });

  test('fleet models — one id, two models: ambiguous unless the origin holds one of them', () => {
    const fleet = new FleetModels();
    fleet.putCard(H1, card('model_1', H1));
    fleet.putCard(H3, card('model_1', H3, 'resnet18'));
    const holders = [holder('car1', [['model_1', H1], ['model_1', H3]]), holder('edge1', [['model_1', H1]]), holder('edge2', [['model_1', H3]])];
    assert.throws(() => fleet.resolve({ name: 'model_1', sha256: '' }, holders, 'car1'),
      code('E_MODEL_AMBIGUOUS', /model_1@aaaaaaaaaaaa \(held by car1, edge1\); model_1@aaaaaaaacccc \(held by car1, edge2\)/));
    assert.deepEqual(fleet.resolve({ name: 'model_1', sha256: '' }, holders, 'edge2'), { id: 'model_1', sha256: H3 });
    assert.deepEqual(fleet.resolve({ name: 'model_1', sha256: '' }, holders, 'edge1'), { id: 'model_1', sha256: H1 });
    // 'aaaaaaaa' starts both hashes: a prefix that does not decide is ambiguous too.
    assert.throws(() => fleet.resolve({ name: '', sha256: 'aaaaaaaa' }, holders), code('E_MODEL_AMBIGUOUS'));
    assert.deepEqual(fleet.resolve({ name: '', sha256: 'aaaaaaaac' }, holders), { id: 'model_1', sha256: H3 });
    // A card nobody online holds is history: the live one is meant.
    const oneLive = [holder('edge1', [['model_1', H1]]), holder('edge2', [['model_1', H3]], false)];
    assert.deepEqual(fleet.resolve({ name: 'model_1', sha256: '' }, oneLive), { id: 'model_1', sha256: H1 });
  });

  test('fleet models — a card must describe its own hash and topology', () => {
    const fleet = new FleetModels();
    assert.match(fleet.putCard(H2, card('net', H1)) ?? '', /describes net@aaaaaaaaaaaa/);
    const bad = card('net', H1);
    bad.topologyJson = bad.topologyJson.replace('"Sequential"', '"Functional"');
    assert.match(fleet.putCard(H1, bad) ?? '', /does not match its topology_sha256/);
    assert.equal(fleet.card(H1), undefined, 'nothing kept');
    assert.throws(() => cardLayerGraph(ModelCard.create({ model: { name: 'x', sha256: H1 }, topologyJson: '{', topologySha256: '' })), code('E_MODEL_LOAD', /not JSON/));
    fleet.putCard(H1, card('net', H1));
    fleet.dropCard(H1);
    assert.equal(fleet.resolve({ name: 'net', sha256: '' }, []), undefined, 'a cleared card is forgotten');
  });

  test('fleet models — a name a device failed to load answers with that device\'s error', () => {
    const holders: ModelHolder[] = [{
      deviceId: 'car1', alive: true, modelRefs: [],
      modelProblems: [{ ref: '/models/lstm/model.json', modelId: 'with_lstm', code: 'E_UNSUPPORTED_LAYER', message: 'layer LSTM is not supported' }],
    }];
    for (const name of ['with_lstm', 'lstm', '/models/lstm/model.json']) {
      const e = FleetModels.problemFor(name, holders);
      assert.equal(e?.code, 'E_UNSUPPORTED_LAYER', name);
      assert.match(e!.message, /device car1 cannot use model/);
    }
    assert.equal(FleetModels.problemFor('other', holders), undefined);
    assert.match(FleetModels.notHeld({ name: 'x', sha256: '' }, [holder('e', [['net', H1]])]).message, /the fleet holds: net@aaaaaaaaaaaa/);
  });

  test('fleet models — a device holds a model by hash when both sides know it, else by id', () => {
    const status = DeviceStatus.create({ models: ['net'], modelRefs: [{ name: 'net', sha256: H1 }] });
    assert.equal(holdsModel(status, { id: 'net', sha256: H1 }), true);
    assert.equal(holdsModel(status, { id: 'net', sha256: H2 }), false, 'another copy under the same id');
    assert.equal(holdsModel(status, { id: 'net', sha256: '' }), true);
    assert.equal(holdsModel(DeviceStatus.create({ models: ['net'] }), { id: 'net', sha256: H2 }), true, 'a device that announces no hashes is taken by id');
    assert.equal(modelLabel({ name: 'net', sha256: H1 }), 'net@aaaaaaaaaaaa');
  });
});

describe('preprocessing', () => {
  test('preprocessing — the wire quantisation gives exactly the preprocessed values', () => {
    const pixels = Uint8Array.from([0, 1, 127, 128, 254, 255]);
    for (const mode of PREPROCESSING_MODES) {
      const direct = preprocessPixels(pixels, 3, mode);
      const [lo, hi] = preprocessedRange(mode);
      for (const v of direct) assert.ok(v >= lo - 1e-4 && v <= hi + 1e-4, `${mode}: ${v} in [${lo}, ${hi}]`);
      const q = pixelQuantisation(mode);
      if (!q) continue;
      pixels.forEach((p, i) => assert.ok(Math.abs((p - q.zeroPoint) * q.scale - direct[i]!) < 1e-6, `${mode} pixel ${p}`));
    }
    assert.deepEqual([...preprocessPixels(Uint8Array.from([10, 20, 30]), 3, 'caffe')].map((v) => Math.round(v * 1000) / 1000), [30 - 103.939, 20 - 116.779, 10 - 123.68], 'caffe: BGR minus the means');
  });

  test('preprocessing — a model states its own, else the default is marked as assumed', () => {
    assert.deepEqual(preprocessingOf({ preprocessing: 'tf' }, 'm'), { mode: 'tf', declared: true });
    assert.deepEqual(preprocessingOf(undefined, 'm'), { mode: 'unit', declared: false });
    assert.throws(() => preprocessingOf({ preprocessing: 'imagenet' }, 'm.json'), code('E_MODEL_LOAD', /m\.json: metadata "preprocessing" is "imagenet"; use one of unit, tf, caffe, torch, none/));
  });
});
