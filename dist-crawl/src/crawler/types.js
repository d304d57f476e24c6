/**
 * The plain data that crosses the thread boundary between the dispatcher and a pool worker.
 * Everything here must survive structured cloning: no classes, no functions.
 */
export {};
//# sourceMappingURL=types.js.map