//# sourceMappingURL=types-accounts.js.map
