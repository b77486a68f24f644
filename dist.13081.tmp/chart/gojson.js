function goJson(value) {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}
function sortedMap(m) {
  return Object.fromEntries(Object.keys(m).sort().map((k) => [k, m[k]]));
}
export {
  goJson,
  sortedMap
};
//# sourceMappingURL=gojson.js.map
