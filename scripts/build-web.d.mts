// Types of build-web.mjs for the TypeScript tests.
export function webIsStale(): boolean;
export function buildWeb(): Promise<void>;
