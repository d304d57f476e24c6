export {};
//# sourceMappingURL=Submission.js.map