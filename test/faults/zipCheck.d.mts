/** undefined when the .pth zip is whole (every entry inside the file, every CRC-32 right), else why not. */
export function checkZipWhole(path: string): string | undefined;
