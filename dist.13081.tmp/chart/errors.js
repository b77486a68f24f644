class ChartError extends Error {
}
export {
  ChartError
};
//# sourceMappingURL=errors.js.map
