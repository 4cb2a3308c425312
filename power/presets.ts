/**
 * Default power figures: device presets and radio power models. Everything here can be
 * overridden per device (DeviceSpec.power, devices file `power`).
 */
import type { DevicePower, DeviceRole, PowerPresetName, PowerSpec, RadioKind, RadioPowerModel } from './types.ts';

/**
 * Radio power while transferring, from Huang, Qian, Gerber, Mao, Sen, Spatscheck:
 * "A Close Examination of Performance and Power Characteristics of 4G LTE Networks",
 * MobiSys 2012, Table 3 (data transfer power model): P = alpha_u x t_u + alpha_d x t_d + beta,
 * t_u / t_d the uplink / downlink throughput in Mbps, P in mW. The table's alpha_u / alpha_d
 * ratios (LTE 8.44, WiFi 2.07, 3G 7.12) agree with these figures.
 * `wired` (Ethernet to the broker) is not modelled: zero.
 */
export const RADIO_MODELS: Readonly<Record<RadioKind, Readonly<RadioPowerModel>>> = Object.freeze({
  lte: Object.freeze({ upAlphaMwPerMbps: 438.39, downAlphaMwPerMbps: 51.97, betaMw: 1288.04 }),
  wifi: Object.freeze({ upAlphaMwPerMbps: 283.17, downAlphaMwPerMbps: 137.01, betaMw: 132.86 }),
  '3g': Object.freeze({ upAlphaMwPerMbps: 868.98, downAlphaMwPerMbps: 122.12, betaMw: 817.88 }),
  wired: Object.freeze({ upAlphaMwPerMbps: 0, downAlphaMwPerMbps: 0, betaMw: 0 }),
});

export interface PowerPreset {
  idleW: number;
  busyW: number;
  /** Radio a device with this preset uses unless told otherwise. */
  radio: RadioKind;
  description: string;
}

/**
 * Whole-device power, idle and with the CPU (or GPU) busy running a stage. Rough public
 * figures; measure your own hardware and override them in the devices file.
 */
export const POWER_PRESETS: Readonly<Record<PowerPresetName, Readonly<PowerPreset>>> = Object.freeze({
  'raspberry-pi-4': Object.freeze({ idleW: 2.0, busyW: 5.5, radio: 'wifi', description: 'Raspberry Pi 4 Model B: ~2 W idle, 5-6 W with all cores busy' }),
  'jetson-nano-5w': Object.freeze({ idleW: 1.5, busyW: 5.0, radio: 'wifi', description: 'Jetson Nano in its 5 W mode' }),
  'jetson-nano-10w': Object.freeze({ idleW: 1.5, busyW: 10.0, radio: 'wifi', description: 'Jetson Nano in its 10 W (MAXN) mode' }),
  'edge-server': Object.freeze({ idleW: 40, busyW: 120, radio: 'wired', description: 'a small x86 edge server' }),
  'cloud-vm': Object.freeze({ idleW: 15, busyW: 60, radio: 'wired', description: 'the share of a cloud host one VM draws' }),
});

export const POWER_PRESET_NAMES = Object.freeze(Object.keys(POWER_PRESETS) as PowerPresetName[]);
export const RADIO_KINDS: readonly RadioKind[] = Object.freeze(['wifi', 'lte', '3g', 'wired'] as RadioKind[]);

export const DEFAULT_PRESET_BY_ROLE: Readonly<Record<DeviceRole, PowerPresetName>> = Object.freeze({
  iot: 'raspberry-pi-4',
  edge: 'edge-server',
  cloud: 'cloud-vm',
});

export function isPowerPresetName(name: string): name is PowerPresetName {
  return Object.hasOwn(POWER_PRESETS, name);
}

export function isRadioKind(name: string): name is RadioKind {
  return (RADIO_KINDS as readonly string[]).includes(name);
}

/** Applies presets and overrides: the power figures the energy model uses for a device. */
export function resolveDevicePower(device: { role: DeviceRole; power?: PowerSpec | undefined; radio?: RadioKind | undefined }): DevicePower {
  const spec = device.power;
  const presetName: PowerPresetName = typeof spec === 'string' ? spec : spec?.preset ?? DEFAULT_PRESET_BY_ROLE[device.role];
  const preset = POWER_PRESETS[presetName];
  const overrides = typeof spec === 'object' ? spec : undefined;
  const radio: RadioKind = device.radio ?? preset.radio;
  const base = RADIO_MODELS[radio];
  return {
    preset: presetName,
    idleW: overrides?.idleW ?? preset.idleW,
    busyW: overrides?.busyW ?? preset.busyW,
    radio,
    radioModel: {
      upAlphaMwPerMbps: overrides?.radioModel?.upAlphaMwPerMbps ?? base.upAlphaMwPerMbps,
      downAlphaMwPerMbps: overrides?.radioModel?.downAlphaMwPerMbps ?? base.downAlphaMwPerMbps,
      betaMw: overrides?.radioModel?.betaMw ?? base.betaMw,
    },
  };
}
