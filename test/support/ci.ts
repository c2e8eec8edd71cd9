/** CI sets CI=true: a suite whose system dependency is missing fails there instead of being skipped. */
export const IN_CI = process.env.CI === "true";
