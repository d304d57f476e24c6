import { Parser } from "htmlparser2";
const ASCII_WHITESPACE = /[\t\n\f\r ]+/g;
/** Extracts the title and link count in one streaming pass, without building a DOM. */
export function extractPageInfo(html) {
    let linkCount = 0;
    let titleState = "before";
    let titleText = "";
    const parser = new Parser({
        onopentag(name, attributes) {
            if (name === "a") {
                if (attributes.href !== undefined)
                    linkCount += 1;
            }
            else if (name === "title" && titleState === "before") {
                titleState = "inside";
            }
        },
        ontext(text) {
            if (titleState === "inside")
                titleText += text;
        },
        onclosetag(name) {
            if (name === "title" && titleState === "inside")
                titleState = "after";
        },
    });
    parser.end(html);
    return { title: titleState === "before" ? null : collapseWhitespace(titleText), linkCount };
}
function collapseWhitespace(text) {
    return text.replace(ASCII_WHITESPACE, " ").trim();
}
//# sourceMappingURL=parse-html.js.map