" Detects .ivr phone call flows (the ivrc compiler's language).
autocmd BufRead,BufNewFile *.ivr set filetype=ivr
