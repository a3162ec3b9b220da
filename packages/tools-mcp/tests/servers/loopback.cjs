// Preloaded with `node --require loopback.cjs`: every TCP server that would listen on all
// interfaces listens on 127.0.0.1 instead. The reference server-everything's HTTP modes call
// `app.listen(PORT)` (every interface) and take no host setting; tests must not open a port to
// the network.
"use strict";
const net = require("net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const [first] = args;
  if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    const callback = args.find((arg) => typeof arg === "function");
    return callback
      ? listen.call(this, Number(first), "127.0.0.1", callback)
      : listen.call(this, Number(first), "127.0.0.1");
  }
  if (first && typeof first === "object" && !first.path) {
    return listen.call(this, { ...first, host: "127.0.0.1" }, ...args.slice(1));
  }
  return listen.apply(this, args);
};
