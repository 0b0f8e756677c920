export * from "./accounts";
export * from "./social";
export * from "./conversations";
export * from "./files";
export * from "./moments";
export * from "./safety";
