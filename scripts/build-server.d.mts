// Types of build-server.mjs for the TypeScript tests.
/** `base`: a checkout's root (default: this one). */
export function serverIsStale(base?: string): boolean;
export const BUNDLED: string[];
export function buildServer(): Promise<number>;
