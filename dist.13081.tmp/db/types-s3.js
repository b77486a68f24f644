//# sourceMappingURL=types-s3.js.map
