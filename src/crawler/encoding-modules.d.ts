// html-encoding-sniffer 4 and whatwg-encoding 3 ship no type declarations; these cover what decode.ts uses.

declare module "html-encoding-sniffer" {
  /**
   * The WHATWG encoding sniffing algorithm: BOM, then the transport-layer label, then a
   * `<meta charset>` prescan of the first 1024 bytes, then `defaultEncoding`.
   * Returns a WHATWG encoding name such as "UTF-8", "GBK" or "Shift_JIS".
   */
  function sniffHTMLEncoding(
    bytes: Uint8Array,
    options?: { transportLayerEncodingLabel?: string; defaultEncoding?: string },
  ): string;
  export = sniffHTMLEncoding;
}

declare module "whatwg-encoding" {
  /** Decodes with a WHATWG encoding name (a BOM takes precedence); throws RangeError for an unknown name. */
  export function decode(bytes: Uint8Array, fallbackEncodingName: string): string;
}
