//! LTI 1.1 tool provider (Rocket): launch, pages, grade passback.
