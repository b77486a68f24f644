function isLoopback(address) {
  if (!address) return false;
  const a = address.startsWith("::ffff:") ? address.slice(7) : address;
  return a === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}
function isLoopbackCaller(req) {
  if (req.headers["x-forwarded-for"] !== void 0 || req.headers.forwarded !== void 0 || req.headers["x-real-ip"] !== void 0) return false;
  return isLoopback(req.socket.remoteAddress) && isLoopback(req.ip);
}
export {
  isLoopbackCaller
};
//# sourceMappingURL=local-caller.js.map
