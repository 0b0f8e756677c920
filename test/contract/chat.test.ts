import { contractSuite, slices } from "./contract";

await contractSuite("chat", slices.chat);
