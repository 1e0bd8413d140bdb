/**
 * Node 20 is past its end of life (April 2026). The AWS SDK says so on every dev/prod run with an eight-line
 * process warning on stderr, in the middle of ingesta's own output (JSON lines included). ingesta replaces it with one
 * warning line of its own, in the run's format, and still runs: Node 20 and 24 are both tested.
 */
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

/** The first Node line the AWS SDK keeps supporting (from January 2027). */
const AWS_SDK_MIN_NODE = 22;

/** The warning for this Node, or undefined when it is supported; turns the SDK's own multi-line warning off. */
export function nodeSupportWarning(usesAws: boolean): string | undefined {
  if (!usesAws || NODE_MAJOR >= AWS_SDK_MIN_NODE) return undefined;
  // the SDK reads this when its first client is created (lazily, after this)
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return `Node ${process.version} is past its end of life: the AWS SDK supports it only until January 2027. Run ingesta on Node 24 (the container image does).`;
}
