export declare const REQUIRED_NODE: string
export declare function isSupportedNode(version: string): boolean
export declare function nodeVersionAdvice(moduleUrl: string): string
export declare function assertSupportedNode(what?: string): void
