import { BadUserInputError } from "./errors.js";
/**
 * Checks every entry before anything is stored and reports all bad ones at once,
 * so a script submitting thousands of URLs can fix them in one go.
 */
export function validateUrls(urls, limits) {
    if (urls.length === 0 || urls.length > limits.maxUrlsPerSubmission) {
        throw new BadUserInputError(`A submission takes 1 to ${limits.maxUrlsPerSubmission} URLs; got ${urls.length}`, { count: urls.length, max: limits.maxUrlsPerSubmission });
    }
    const invalid = [];
    const checked = [];
    urls.forEach((value, index) => {
        const reason = problemWith(value, limits.maxUrlLength);
        if (typeof reason === "string")
            invalid.push({ index, value: value.slice(0, 200), reason });
        else
            checked.push(reason);
    });
    if (invalid.length > 0) {
        const shown = invalid.slice(0, 20).map((e) => `#${e.index}: ${e.reason}`);
        const more = invalid.length > shown.length ? `; and ${invalid.length - shown.length} more` : "";
        throw new BadUserInputError(`${invalid.length} of ${urls.length} URLs are invalid: ${shown.join("; ")}${more}`, {
            invalid,
        });
    }
    return checked;
}
function problemWith(value, maxLength) {
    if (value.length > maxLength)
        return `longer than ${maxLength} characters`;
    let parsed;
    try {
        parsed = new URL(value);
    }
    catch {
        return "not an absolute URL";
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
        return `scheme must be http or https, not ${parsed.protocol.replace(/:$/, "")}`;
    }
    if (parsed.hostname === "")
        return "missing host";
    return { url: parsed.href, host: parsed.hostname };
}
//# sourceMappingURL=validate-urls.js.map