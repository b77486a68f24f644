//# sourceMappingURL=types-audit.js.map
