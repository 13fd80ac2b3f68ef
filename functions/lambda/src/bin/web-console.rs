//! Lambda function `web-console`: the browser pages and assets (GET /, /signin, /redeem,
//! /directory, /issue/{token}, /assets/{proxy+}, /favicon.ico), signing in by OIDC.
fn main() -> std::process::ExitCode {
    orgcert_lambda::web_main()
}
