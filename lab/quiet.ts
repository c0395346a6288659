/**
 * The lab runs on Node 20 while Lambda runs Node 22; the AWS SDK warns on every
 * process start that releases after January 2027 will need Node 22. The locked
 * SDK versions support Node 20, so the warning is noise here.
 */
export function quietNode20Warning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}
