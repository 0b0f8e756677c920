import { contractSuite, slices } from "./contract";

await contractSuite("media", slices.media);
