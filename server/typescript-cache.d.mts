// Types of typescript-cache.mjs (JavaScript, because it runs before any TypeScript is stripped).
/** The directory of stripped modules. */
export declare const cacheDir: string;
/** Where the stripped JavaScript of this TypeScript source is kept. */
export declare function cachedPath(source: Buffer): string;
/** Strips `source` (TypeScript) and keeps the result; answers the JavaScript. */
export declare function strip(source: Buffer): string;
