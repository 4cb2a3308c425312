import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { parseDevicesFile } from '../../planner/devices-file.ts';

const EXAMPLE = '{"origin":"car1","devices":[{"id":"car1","role":"iot","speed":0.1,"memoryMiB":1024,"power":"raspberry-pi-4","radio":"wifi","link":{"upMbps":10,"downMbps":20,"rttMs":10}},{"id":"edge1","role":"edge","speed":0.5,"memoryMiB":8192,"link":{"upMbps":200,"downMbps":200,"rttMs":2}},{"id":"cloud1","role":"cloud","speed":1,"memoryMiB":65536,"link":{"upMbps":50,"downMbps":50,"rttMs":40}}]}';

test('planner devices file — the example of the issue parses into device specs (Mbps -> bits/s, MiB -> bytes)', () => {
  const parsed = parseDevicesFile(EXAMPLE);
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.issues));
  const { origin, devices, excludeDevices } = parsed.file;
  assert.equal(origin, 'car1');
  assert.deepEqual(devices[0], { id: 'car1', role: 'iot', speed: 0.1, memoryBytes: 1024 * 2 ** 20, link: { upBps: 10e6, downBps: 20e6, rttMs: 10 }, power: 'raspberry-pi-4', radio: 'wifi' });
  assert.equal(devices[2]!.memoryBytes, 65536 * 2 ** 20);
  assert.deepEqual(excludeDevices, []);
});

test('planner devices file — every optional field: power overrides, workers, queues, profiles, offline, pins, reference speed', () => {
  const text = JSON.stringify({
    origin: 'pi',
    referenceGflops: 30,
    taskOverheadMs: 0.2,
    pins: { map: 'edge' },
    devices: [
      { id: 'pi', role: 'iot', speed: 0.1, memoryMiB: 512, radio: 'lte', power: { preset: 'jetson-nano-5w', idleW: 1.1, radioModel: { betaMw: 1000 } }, link: { upMbps: 5, downMbps: 10, rttMs: 50 } },
      { id: 'edge', role: 'edge', speed: 0.5, memoryMiB: 4096, workers: 3, busyUntilMs: 20, busy: [{ startMs: 30, endMs: 50, worker: 2 }], loadFactor: 1.5, profileMs: { conv1: 3.2 }, link: { upMbps: 100, downMbps: 100, rttMs: 1 } },
      { id: 'cloud', role: 'cloud', speed: 1, memoryMiB: 8192, offline: true, link: { upMbps: 100, downMbps: 100, rttMs: 30 } },
    ],
  });
  const parsed = parseDevicesFile(text);
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.issues));
  const f = parsed.file;
  assert.deepEqual(f.excludeDevices, ['cloud']);
  assert.deepEqual(f.pins, { map: 'edge' });
  assert.deepEqual(f.cost, { referenceFlopsPerSec: 30e9, taskOverheadMs: 0.2 });
  assert.deepEqual(f.devices[0]!.power, { preset: 'jetson-nano-5w', idleW: 1.1, radioModel: { betaMw: 1000 } });
  assert.equal(f.devices[1]!.workers, 3);
  assert.deepEqual(f.devices[1]!.busy, [{ startMs: 30, endMs: 50, worker: 2 }]);
  assert.deepEqual(f.devices[1]!.profileMs, { conv1: 3.2 });
});

const BAD: Array<[string, string, RegExp]> = [
  ['not JSON', '{"origin": "a", ', /not valid JSON/],
  ['not an object', '[1,2]', /a devices file is a JSON object/],
  ['no devices', '{"origin":"a","devices":[]}', /\$\.devices: must be a non-empty array/],
  ['an origin that is not a device', EXAMPLE.replace('"origin":"car1"', '"origin":"car9"'), /\$\.origin: "car9" is not one of the devices \(car1, edge1, cloud1\)/],
  ['a misspelled key', EXAMPLE.replace('"speed":0.5', '"sped":0.5'), /\$\.devices\[1\]\.sped: unknown key \(did you mean "speed"\?\)/],
  ['a missing speed', EXAMPLE.replace('"speed":0.5,', ''), /\$\.devices\[1\]\.speed: is required/],
  ['a negative bandwidth', EXAMPLE.replace('"upMbps":200', '"upMbps":-200'), /\$\.devices\[1\]\.link\.upMbps: must be a number > 0 \(got -200\)/],
  ['a string memory', EXAMPLE.replace('"memoryMiB":8192', '"memoryMiB":"8G"'), /memoryMiB: must be a number > 0 \(got "8G"\)/],
  ['a missing link', EXAMPLE.replace(',"link":{"upMbps":200,"downMbps":200,"rttMs":2}', ''), /\$\.devices\[1\]\.link: is required/],
  ['an unknown role', EXAMPLE.replace('"role":"edge"', '"role":"fog"'), /role: must be "iot", "edge" or "cloud" \(got "fog"\)/],
  ['an unknown preset', EXAMPLE.replace('"raspberry-pi-4"', '"raspberry-pi-5"'), /unknown preset "raspberry-pi-5" \(did you mean "raspberry-pi-4"\?\)/],
  ['an unknown radio', EXAMPLE.replace('"radio":"wifi"', '"radio":"5g"'), /radio: must be one of wifi, lte, 3g, wired/],
  ['a duplicate id', EXAMPLE.replace('"id":"edge1"', '"id":"car1"'), /duplicate device id "car1"/],
  ['a bad id', EXAMPLE.replace('"id":"edge1"', '"id":"edge 1"'), /id: must be 1-64 characters/],
  ['fractional workers', EXAMPLE.replace('"speed":0.5', '"speed":0.5,"workers":1.5'), /workers: must be a whole number >= 1/],
  ['a busy interval for a missing worker', EXAMPLE.replace('"speed":0.5', '"speed":0.5,"busy":[{"startMs":0,"endMs":5,"worker":1}]'), /worker: must be below workers \(1\)/],
  ['a pin to a missing device', EXAMPLE.replace('"origin":"car1"', '"origin":"car1","pins":{"x":"mars"}'), /\$\.pins\.x: must name one of the devices/],
];

for (const [what, text, message] of BAD) {
  test(`planner devices file — ${what} is a clear E_CONFIG error`, () => {
    const parsed = parseDevicesFile(text);
    assert.ok(!parsed.ok);
    assert.equal(parsed.issues[0]!.code, 'E_CONFIG');
    assert.match(parsed.issues.map((i) => i.message).join('\n'), message);
  });
}

test('planner devices file — several mistakes are all reported at once', () => {
  const parsed = parseDevicesFile(EXAMPLE.replace('"speed":0.5', '"speed":0').replace('"rttMs":40', '"rttMs":-1'));
  assert.ok(!parsed.ok);
  assert.equal(parsed.issues.length, 2);
});
