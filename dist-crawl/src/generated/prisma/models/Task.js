export {};
//# sourceMappingURL=Task.js.map