// Types for check-node.mjs (plain JavaScript so it runs before anything is compiled, on any Node).
export const supportedRange: string;
export function satisfies(version: string, range: string): boolean;
export function checkNode(version?: string): boolean;
