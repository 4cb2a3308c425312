// The public surface of dashboard/: the server side (the page itself lives in app/ and is bundled).
export { dashboardHandler, startDashboardServer } from './server.ts';
export type { DashboardHandler, DashboardOptions, DashboardServer, DashboardServerOptions } from './server.ts';
export { dashboardAssets } from './bundle.ts';
export type { DashboardAssets } from './bundle.ts';
export { brokerUrlFor } from './model/config.ts';
export type { DashboardConfig } from './model/config.ts';
