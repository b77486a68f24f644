// Types of build-server.mjs for the TypeScript tests.
export function serverIsStale(): boolean;
export function buildServer(): Promise<number>;
