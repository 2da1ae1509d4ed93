export declare const REQUIRED_NODE: string
export declare function isSupportedNode(version: string): boolean
export declare function assertSupportedNode(what?: string): void
