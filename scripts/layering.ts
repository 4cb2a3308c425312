/**
 * The import layering of the project, in one place: which folder (area) may import which,
 * and which areas may import the packages that must stay behind one module.
 * scripts/check-imports.ts enforces it (`npm run lint`); `npm run layering:doc` renders it
 * into docs/ARCHITECTURE.md, and test/unit/layering.test.ts keeps the two in step.
 */

/** The checked areas: folders relative to the repository root; a file belongs to the longest that contains it. */
export const AREAS = [
  'schemas',
  'net',
  'transport',
  'power',
  'planner/core',
  'planner',
  'models',
  'broker',
  'node-runtime',
  'dashboard',
  'cli',
  'bench',
] as const;

export type Area = (typeof AREAS)[number];

/** One area's place in the layering. */
export interface AreaLayer {
  /** What the area holds, one line. */
  holds: string;
  /** The other areas it may import (an area may always import itself). */
  mayImport: readonly Area[];
  /**
   * When set, the imports from other areas are type-only, except value imports of these
   * files (paths relative to the root).
   */
  valuesOnlyFrom?: readonly string[];
}

/** What each area holds and may import. No import cycle between files is allowed anywhere. */
export const LAYERING: Readonly<Record<Area, AreaLayer>> = {
  schemas: {
    holds: '`edgeweave.proto`, generated code, topics, tensor codec, capabilities, errors, graph types',
    mayImport: [],
  },
  net: {
    holds: 'MQTT packet framing for socket reads, shared by the broker and the transport: pure, Node only',
    mayImport: [],
  },
  transport: {
    holds: 'the MQTT client wrapper every node uses (late acknowledgements, resubscribe, JSON mirror)',
    mayImport: ['schemas', 'net'],
  },
  power: {
    holds: 'device power presets, radio power models and the energy model: pure, shared by planner/core and node-runtime',
    mayImport: [],
  },
  'planner/core': {
    holds: 'cost model, placement algorithms: pure functions over plain data',
    mayImport: ['schemas', 'power'],
    valuesOnlyFrom: ['schemas/errors.ts', 'power/presets.ts', 'power/energy.ts'],
  },
  planner: {
    holds: 'the planner service (MQTT adapter around the core)',
    mayImport: ['planner/core', 'power', 'schemas', 'models', 'transport'],
  },
  models: {
    holds: 'zoo builders, model.json IO, graph -> task DAG, slices, profiler, engine choice (depends on tfjs)',
    mayImport: ['schemas'],
  },
  broker: {
    holds: '`startBroker()`: aedes + TCP/WebSocket/TLS + $share groups + auth/ACL',
    mayImport: ['schemas', 'net'],
  },
  'node-runtime': {
    holds: 'the device runtime (same code on IoT, edge, cloud) and the job client',
    mayImport: ['schemas', 'models', 'power', 'transport'],
  },
  dashboard: {
    holds: 'the live dashboard: its server, and the page bundled for the browser',
    mayImport: ['schemas'],
  },
  cli: {
    holds: 'composition root: argv/env -> config -> root logger -> wires the parts',
    mayImport: ['schemas', 'net', 'transport', 'power', 'planner/core', 'planner', 'models', 'broker', 'node-runtime', 'dashboard'],
  },
  bench: {
    holds: 'benchmarks (`npm run bench`)',
    mayImport: AREAS.filter((a) => a !== 'bench'),
  },
};

/** A place allowed to import a package: an area, a folder inside one, or one file. */
export interface PackagePlace {
  /** Relative to the root: a folder (`dashboard/app`) or a file (`bench/broker.ts`). */
  path: string;
  /** Why it is allowed, when that is not obvious. */
  why?: string;
}

/** Packages only some places may import, whatever the area layering says. */
export interface PackageRule {
  /** Package names; a trailing `*` matches every package starting so (`aedes-*`). Subpaths (`mqtt/dist/...`) count. */
  packages: readonly string[];
  only: readonly PackagePlace[];
}

/** Package rules, over the checked areas (test/ and scripts/ are not checked). */
export const PACKAGE_RULES: readonly PackageRule[] = [
  {
    packages: ['mqtt'],
    only: [
      { path: 'transport' },
      { path: 'dashboard/app', why: "the browser's own client" },
      { path: 'bench/broker.ts', why: 'measures raw broker rates' },
    ],
  },
  { packages: ['aedes', 'aedes-*'], only: [{ path: 'broker' }] },
];

/** The rule covering a bare import specifier, if any. */
export function packageRuleOf(specifier: string): PackageRule | undefined {
  return PACKAGE_RULES.find((rule) =>
    rule.packages.some((p) =>
      p.endsWith('*') ? specifier.startsWith(p.slice(0, -1)) : specifier === p || specifier.startsWith(`${p}/`),
    ),
  );
}

/** Whether a file (path relative to the root, with `/`) is one of the rule's places. */
export function isPackagePlace(rule: PackageRule, file: string): boolean {
  return rule.only.some(({ path }) => file === path || file.startsWith(`${path}/`));
}

/** `schemas/` for a folder, `bench/broker.ts` for a file, in backticks. */
export function showPath(path: string): string {
  return path.endsWith('.ts') ? `\`${path}\`` : `\`${path}/\``;
}

/** Joins `a`, `a and b`, `a, b and c`. */
function listOf(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

/** The markdown block of docs/ARCHITECTURE.md between the layering markers, ending with a newline. */
export function renderLayering(): string {
  const rows = AREAS.map((area) => {
    const { holds, mayImport, valuesOnlyFrom } = LAYERING[area];
    const everyArea = AREAS.every((a) => a === area || mayImport.includes(a));
    let may = everyArea ? 'every area' : mayImport.length === 0 ? 'nothing of ours' : mayImport.map(showPath).join(', ');
    if (valuesOnlyFrom) may += `: types only, except values from ${listOf(valuesOnlyFrom.map(showPath))}`;
    return `| ${showPath(area)} | ${cell(holds)} | ${cell(may)} |`;
  });
  const packages = PACKAGE_RULES.map((rule) => {
    const names = listOf(rule.packages.map((p) => `\`${p}\``));
    const places = listOf(rule.only.map(({ path, why }) => (why ? `${showPath(path)} (${why})` : showPath(path))));
    return `- ${names}: imported only from ${places}.`;
  });
  return [
    '| area | what it holds | may import |',
    '| --- | --- | --- |',
    ...rows,
    '',
    ...packages,
    '- No import cycle between files, in any area (type-only imports count).',
    '',
  ].join('\n');
}

/** The marker lines around the rendered block in docs/ARCHITECTURE.md. */
export const LAYERING_BEGIN = '<!-- layering:begin (generated by npm run layering:doc from scripts/layering.ts) -->';
export const LAYERING_END = '<!-- layering:end -->';

/** The text between the markers (after the begin marker's line), or undefined when they are missing. */
export function layeringBlockOf(doc: string): string | undefined {
  const begin = doc.indexOf(`${LAYERING_BEGIN}\n`);
  const end = doc.indexOf(LAYERING_END);
  if (begin < 0 || end < begin) return undefined;
  return doc.slice(begin + LAYERING_BEGIN.length + 1, end);
}

/** The document with the text between the markers replaced by `block`; undefined when the markers are missing. */
export function withLayeringBlock(doc: string, block: string): string | undefined {
  const current = layeringBlockOf(doc);
  if (current === undefined) return undefined;
  const start = doc.indexOf(`${LAYERING_BEGIN}\n`) + LAYERING_BEGIN.length + 1;
  return doc.slice(0, start) + block + doc.slice(start + current.length);
}
